"""Money in whole pence: pounds for an answer, and parts that add up to their total."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction


def pounds(pence: float) -> float:
    return round(pence / 100, 2)


def pence_adding_up(exact: Sequence[float | Fraction], total: int) -> list[int]:
    """``exact`` (pence, unrounded) in whole pence that add up to ``total``, their sum
    rounded once: each rounded down, then the pennies left over go to the largest remainders
    (the first of equal ones). Rounding each alone can miss the total by a penny a figure;
    this way each is less than a penny from its exact value and the parts add up. Give
    fractions where equal remainders must be seen as equal (floats can differ in the last
    bit and hand the penny to the wrong part)."""
    out = [math.floor(x) for x in exact]
    left = total - sum(out)
    order = sorted(range(len(exact)), key=lambda i: (out[i] - exact[i], i))  # largest first
    step = 1 if left > 0 else -1
    for i in order if left > 0 else reversed(order):
        if left == 0:
            break
        out[i] += step
        left -= step
    return out
