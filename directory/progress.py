"""Progress of long work (loading the geography, imports, refreshes), for whoever watches.

Use cases take a :class:`Progress` and call it as they go; they never know whether a
terminal shows a progress bar (the CLI's rich implementation), a log records it, or nobody
watches (this base class, which does nothing).
"""

from __future__ import annotations


class Progress:
    """Reports steps of work; this base class ignores them."""

    def step(self, label: str, total: int | None = None) -> None:
        """A new step begins; ``total`` is its size in rows (or None when unknown)."""

    def advance(self, amount: int = 1) -> None:
        """``amount`` more rows of the current step are done."""

    def note(self, text: str) -> None:
        """A line worth showing between steps (what was found, what was decided)."""


#: the progress of work nobody watches
QUIET = Progress()
