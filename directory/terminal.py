"""Progress of long work on a terminal: the CLI's view of :class:`directory.progress.Progress`.

The current step is one live line on stderr (a spinner, its label, a bar with rows done of
the total when the total is known, the time it has taken); a finished step stays as one line,
e.g. ``✓ writing postcodes 187,721 rows 4.2 s``, and notes are printed between them. Nothing
is shown unless stderr is a terminal and the command was not given ``--quiet``: then the
work reports to :data:`directory.progress.QUIET`. What the command prints meanwhile (log
records, and its human lines when stdout is the terminal too) goes above the live line;
stdout sent to a file or a pipe (``--json``, reports) is never touched.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from types import TracebackType
from typing import IO

from rich.console import Console, RenderableType
from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.progress import Progress as RichProgress
from rich.table import Column
from rich.text import Text

from directory.progress import QUIET, Progress


def stderr_console() -> Console:
    """The console progress is shown on (a function, so tests can give another)."""
    return Console(stderr=True)


def shows_progress(console: Console, quiet: bool = False) -> bool:
    """Whether progress is shown on ``console``: a real (not dumb) terminal, not --quiet."""
    return not quiet and console.is_terminal and not console.is_dumb_terminal


@contextmanager
def progress_for(quiet: bool = False, console: Console | None = None) -> Iterator[Progress]:
    """The progress a command reports to: a :class:`TerminalProgress` on stderr when it is a
    terminal and not ``quiet``, else :data:`QUIET` (nothing is written)."""
    console = console or stderr_console()
    if not shows_progress(console, quiet):
        yield QUIET
        return
    with TerminalProgress(console) as progress:
        yield progress


def _rows(task: Task, *, finished: bool = False) -> str:
    """Rows of a step: "92,000/180,792 rows" while a step with a total runs, "180,792 rows"
    once it is done (or for a step that only counts), nothing for a step without rows."""
    done = int(task.completed)
    if task.total is not None and not (finished and done == task.total):
        return f"{done:,}/{int(task.total):,} {_row_s(int(task.total))}"
    return f"{done:,} {_row_s(done)}" if done or task.total is not None else ""


def _row_s(n: int) -> str:
    return "row" if n == 1 else "rows"


def _seconds(task: Task) -> str:
    return f"{task.elapsed or 0.0:.1f} s"


class _Bar(BarColumn):
    """A bar only when the step's total is known."""

    def render(self, task: Task) -> RenderableType:  # type: ignore[override]
        return super().render(task) if task.total is not None else Text("")


class _Rows(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(_rows(task), style="progress.download")


class _Elapsed(ProgressColumn):
    max_refresh = 0.1

    def render(self, task: Task) -> Text:
        return Text(_seconds(task), style="progress.elapsed")


class _LinesAbove(io.TextIOBase):
    """Stands for stderr (log records, messages) or stdout while the live line is shown:
    each line written is printed above the live line, as it is (not wrapped)."""

    def __init__(self, console: Console, file: IO[str]) -> None:
        self._console = console
        self._file = file
        self._pending = ""

    @property
    def rich_proxied_file(self) -> IO[str]:
        """The file itself (rich's consoles write to it, not to this stand-in)."""
        return self._file

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._file, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return self._file.isatty()

    def fileno(self) -> int:
        return self._file.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._print(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._print(self._pending)
            self._pending = ""

    def _print(self, line: str) -> None:
        self._console.print(Text.from_ansi(line), soft_wrap=True, highlight=False)


class TerminalProgress(Progress):
    """Shows the steps of long work on a rich console (use it as a context manager)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = RichProgress(
            SpinnerColumn(),
            # on a narrow terminal the label is cut short, never wrapped onto a second line
            TextColumn(
                "{task.description}",
                table_column=Column(no_wrap=True, overflow="ellipsis", min_width=10),
            ),
            _Bar(bar_width=30),
            _Rows(table_column=Column(no_wrap=True)),
            _Elapsed(table_column=Column(no_wrap=True)),
            console=console,
            redirect_stderr=False,  # done by __enter__, without wrapping the lines
            redirect_stdout=False,
        )
        self._task: TaskID | None = None
        self._redirected = ExitStack()

    def __enter__(self) -> TerminalProgress:
        # lines written meanwhile go above the live line: log records and messages on
        # stderr, and human lines on stdout when it is a terminal too (never stdout sent
        # to a file or a pipe, where --json goes)
        self._redirected.enter_context(redirect_stderr(_LinesAbove(self.console, sys.stderr)))
        if _isatty(sys.stdout):
            self._redirected.enter_context(redirect_stdout(_LinesAbove(self.console, sys.stdout)))
        self.bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._finish(failed=exc_type is not None)
            self.bar.stop()
        finally:
            for stream in (sys.stdout, sys.stderr):
                if isinstance(stream, _LinesAbove):
                    stream.flush()
            self._redirected.close()

    # -- Progress ------------------------------------------------------------------------------
    def step(self, label: str, total: int | None = None) -> None:
        self._finish()
        self._task = self.bar.add_task(label, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self.bar.advance(self._task, amount)

    def note(self, text: str) -> None:
        self._finish()
        self.bar.console.print(Text(f"  {text}", style="dim"), soft_wrap=True, highlight=False)

    def done(self) -> None:
        self._finish()

    # -- the display ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Draw the live line now (it is redrawn ten times a second anyway)."""
        self.bar.refresh()

    def _finish(self, *, failed: bool = False) -> None:
        """The current step is over: replace its live line by a line that stays."""
        if self._task is None:
            return
        self.bar.stop_task(self._task)
        task = next(t for t in self.bar.tasks if t.id == self._task)
        rows = _rows(task, finished=True)
        line = Text.assemble(
            ("✗ " if failed else "✓ ", "red" if failed else "green"),
            task.description,
            (f" {rows}" if rows else "", "progress.download"),
            (f" {_seconds(task)}", "progress.elapsed"),
        )
        self.bar.remove_task(self._task)
        self._task = None
        self.bar.refresh()  # the live line without the finished step
        self.bar.console.print(line, soft_wrap=True, highlight=False)


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # closed
        return False
