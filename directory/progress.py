"""Progress of long work (loading the geography, imports, refreshes), for whoever watches.

Use cases take a :class:`Progress` and call it as they go; they never know whether a
terminal shows a progress bar (the CLI's, ``directory/terminal.py``, on rich), a log
records it, or nobody watches (this base class, which does nothing).
"""

from __future__ import annotations

import time


class Progress:
    """Reports steps of work; this base class ignores them."""

    def step(self, label: str, total: int | None = None) -> None:
        """A new step begins; ``total`` is its size in rows (or None when unknown)."""

    def advance(self, amount: int = 1) -> None:
        """``amount`` more rows of the current step are done."""

    def note(self, text: str) -> None:
        """A line worth showing between steps (what a step found, what was decided); it
        ends the current step, so it reads after that step's own line."""

    def done(self) -> None:
        """The current step is over (a new step, or the end of the work, also ends it):
        say so before showing something that comes after it, such as a report."""


#: the progress of work nobody watches
QUIET = Progress()


class OutOfTime(Exception):
    """Work watched by a :class:`Deadline` ran past it."""


class Deadline(Progress):
    """Progress nobody watches, that stops the work (raises :class:`OutOfTime`) once it
    has run ``seconds``: looked at each time the work reports a step or rows, so the work
    stops at its next report past the time (an import's transaction then rolls back)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def _check(self) -> None:
        if time.monotonic() > self.ends:
            raise OutOfTime(f"past {self.seconds:g} s")

    def step(self, label: str, total: int | None = None) -> None:
        self._check()

    def advance(self, amount: int = 1) -> None:
        self._check()
