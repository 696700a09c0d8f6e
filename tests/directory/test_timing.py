"""An award's decision beside the start of the period it funds (issue 18 §1): the rule, and
the grants' answers carrying it for the real MOPAC decisions of the demo directory."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

import pytest
from flask import Flask

from directory.usecases.funding.timing import timing
from tests.conftest import shared_data_path


@pytest.mark.parametrize(
    ("awarded", "start", "fy", "days", "late", "months", "basis"),
    [
        # decided two months into the year it funds (PCD 203's small grants fund)
        (date(2017, 6, 1), None, "2017/18", 61, True, 2, "financial_year"),
        # decided before the year: on time (DMPCD 2016/16, the SNB fund)
        (date(2016, 2, 3), None, "2016/17", -58, False, 0, "financial_year"),
        # on the day the period begins: on time
        (date(2021, 4, 1), date(2021, 4, 1), "2021/22", 0, False, 0, "start"),
        # ten days late is late by no whole month
        (date(2021, 4, 11), date(2021, 4, 1), None, 10, True, 0, "start"),
        # the award's own start wins over its financial year
        (date(2022, 1, 15), date(2021, 10, 1), "2021/22", 106, True, 3, "start"),
    ],
)
def test_the_rule(awarded, start, fy, days, late, months, basis):  # type: ignore[no-untyped-def]
    t = timing(awarded, start, fy)
    assert (t.decided_after_start_days, t.late, t.late_by_months) == (days, late, months)
    assert t.period_start_basis == basis and t.dated


@pytest.mark.parametrize(
    ("awarded", "start", "fy"),
    [
        (None, date(2021, 4, 1), "2021/22"),
        (date(2021, 4, 1), None, None),
        (date(2021, 4, 1), None, ""),
        # a year isdigit() takes and int() refuses: undated, not a 500
        (date(2021, 4, 1), None, "²⁰²¹/22"),
    ],
)
def test_undated_awards_are_neither_late_nor_on_time(awarded, start, fy):  # type: ignore[no-untyped-def]
    t = timing(awarded, start, fy)
    assert not t.dated
    assert (t.decided_after_start_days, t.late, t.late_by_months) == (None, None, None)


def _decisions() -> dict[str, dict[str, str]]:
    path = shared_data_path() / "grants" / "mopac_grant_decisions_curated.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return {r["record_id"]: r for r in csv.DictReader(handle)}


def test_the_real_decisions_carry_their_timing(shared_demo_app: Flask) -> None:
    """Every demo grant read from a real MOPAC decision answers the rule computed here from
    the decision's own row: signed date against 1 April of its (first) financial year."""
    client = shared_demo_app.test_client()
    decisions = _decisions()
    seen: dict[str, Any] = {}
    for ref in decisions:
        res = client.get(f"/api/v1/grants/{ref}")
        if res.status_code == 404:
            continue  # a decision the demo does not list as a grant
        assert res.status_code == 200, res.get_json()
        seen[ref] = res.get_json()
    assert len(seen) >= 25  # nearly every decision is a grant
    for ref, grant in seen.items():
        row = decisions[ref]
        signed = row["date_signed"].strip()
        fy = row["financial_year"].strip()
        if not signed or not fy:
            assert grant["decided_after_start_days"] is None and grant["late"] is None, ref
            continue
        begins = date(int(fy[:4]), 4, 1)
        days = (date.fromisoformat(signed) - begins).days
        assert grant["decided_after_start_days"] == days, ref
        assert grant["late"] is (days > 0), ref
    # by hand: PCD 203 (the victims' small grants fund, 2017/18) was signed on 1 June 2017,
    # 61 days into the year it funds; the 2016/17 SNB fund was decided on 3 February 2016
    small = seen["MOPAC-DEC-016"]
    assert (small["decided_after_start_days"], small["late"], small["late_by_months"]) == (
        61,
        True,
        2,
    )
    snb = seen["MOPAC-DEC-028"]
    assert (snb["decided_after_start_days"], snb["late"], snb["late_by_months"]) == (-58, False, 0)


@pytest.mark.parametrize(
    ("text", "words"),
    [("2002-07", "July 2002"), ("²⁰⁰²-⁰⁷", "²⁰⁰²-⁰⁷"), ("2002-13", "2002-13"), (None, None)],
)
def test_a_month_is_written_in_words_only_when_it_is_one(text, words):  # type: ignore[no-untyped-def]
    """A postcode's month of termination: text isdigit() takes and int() refuses is given as
    it is (it was a ValueError, a 500 on the postcode's answer)."""
    from directory.usecases.geography import month_words

    assert month_words(text) == words
