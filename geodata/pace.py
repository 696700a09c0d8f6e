"""A download's floor on speed.

Each read of a socket is bounded by a timeout, so a server sending a byte every few seconds
is never timed out: a file's download would last for as long as the server kept sending.
:class:`Pace` gives one up when it brings fewer than ``min_rate`` bytes a second over a
stretch of time (ten timeouts, say), while it trickles.
"""

from __future__ import annotations

import time

#: bytes a second a download must average over each stretch
MIN_RATE = 4096


class Pace:
    """How fast a download's bytes come, stretch by stretch.

    Parameters
    ----------
    stretch_s : float
        The time over which the rate is averaged.
    min_rate : int, default MIN_RATE
        The fewest bytes a second a stretch may bring.
    """

    def __init__(self, stretch_s: float, min_rate: int = MIN_RATE) -> None:
        self.stretch_s, self.min_rate = stretch_s, min_rate
        self._since, self._at_since = time.monotonic(), 0

    def too_slow(self, total: int) -> str | None:
        """After a read, with ``total`` bytes read in all: why the download is too slow to
        go on (a sentence's end: "12 bytes in 600 s, under 4,096 a second"), else None."""
        now = time.monotonic()
        if now - self._since < self.stretch_s:
            return None
        brought, took = total - self._at_since, now - self._since
        if brought < self.min_rate * took:
            return f"{brought:,} bytes in {took:.0f} s, under {self.min_rate:,} a second"
        self._since, self._at_since = now, total
        return None
