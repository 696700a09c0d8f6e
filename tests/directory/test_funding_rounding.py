"""Figures rounded to the penny that must add up to a total rounded once (each group's
apportioned_amount beside the headline's)."""

from __future__ import annotations

import pytest

from directory.usecases.funding.money import pence_adding_up


@pytest.mark.parametrize(
    ("exact", "total", "expected"),
    [
        # a third each: rounded alone 33 + 33 + 33 = 99, a penny short of 100
        ([100 / 3, 100 / 3, 100 / 3], 100, [34, 33, 33]),
        # the largest remainder gets the penny left over, not the first figure
        ([10.2, 20.7, 30.1], 61, [10, 21, 30]),
        # two halves: rounded alone (to even) 0 + 2 = 2, one short of 3
        ([0.5, 2.5], 3, [1, 2]),
        ([5.0, 7.0], 12, [5, 7]),
        ([], 0, []),
    ],
)
def test_the_parts_add_up_to_the_total_each_within_a_penny(exact, total, expected):
    parts = pence_adding_up(exact, total)
    assert parts == expected
    assert sum(parts) == total
    assert all(abs(p - x) < 1 for p, x in zip(parts, exact, strict=True))
