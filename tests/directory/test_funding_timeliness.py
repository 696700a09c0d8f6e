"""GET /funding/timeliness (issue 18 §1) on the demo directory: the real MOPAC decisions'
signed dates against the start of the year they fund, figures computed here from the
decisions CSV (tests/directory/test_timing.py checks the per-award rule)."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

import pytest
from flask import Flask

from tests.conftest import shared_data_path

URL = "/api/v1/funding/timeliness"


def _decisions() -> dict[str, dict[str, str]]:
    path = shared_data_path() / "grants" / "mopac_grant_decisions_curated.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return {r["record_id"]: r for r in csv.DictReader(handle)}


def _days(row: dict[str, str]) -> int:
    return (
        date.fromisoformat(row["date_signed"]) - date(int(row["financial_year"][:4]), 4, 1)
    ).days


def _get(app: Flask, query: str) -> dict[str, Any]:
    res = app.test_client().get(f"{URL}?{query}")
    assert res.status_code == 200, res.get_json()
    return res.get_json()  # type: ignore[no-any-return]


def _group(answer: dict[str, Any], programme: str) -> dict[str, Any]:
    return next(g for g in answer["groups"] if (g["programme"] or {}).get("id") == programme)


def test_the_victims_small_grants_fund_was_decided_late(shared_demo_app: Flask) -> None:
    """PCD 203 (2017/18) was signed on 1 June 2017: both its awards 61 days late."""
    rows = _decisions()
    late = [rows["MOPAC-DEC-016"], rows["MOPAC-DEC-017"]]
    assert {_days(r) for r in late} == {61}
    answer = _get(shared_demo_app, "by=programme&financial_year=2017/18&programme=victims")
    group = _group(answer, "victims")
    assert (group["awards"], group["dated_awards"], group["late_awards"]) == (2, 2, 2)
    assert (group["share_late"], group["worst_days"], group["median_late_days"]) == (1.0, 61, 61)
    assert group["late_amount"] == sum(float(r["amount_gbp"]) for r in late) == 727438
    assert group["worst_award"]["ref"] == "MOPAC-DEC-016"
    assert answer["rule"].startswith("decided_after_start_days = the award (decision) date")
    assert answer["period"] == {"earliest_start": "2017-04-01", "latest_start": "2017-04-01"}


def test_the_2016_17_snb_fund_was_decided_on_time(shared_demo_app: Flask) -> None:
    row = _decisions()["MOPAC-DEC-028"]
    answer = _get(shared_demo_app, "by=financial_year&programme=snb&financial_year=2016/17")
    (group,) = answer["groups"]
    assert group["financial_year"] == "2016/17"
    assert (group["dated_awards"], group["late_awards"], group["worst_days"]) == (1, 0, _days(row))
    assert group["worst_days"] == -58 and group["late_amount"] == 0
    assert group["dated_amount"] == float(row["amount_gbp"])


def test_the_co_commissioning_second_tranche_is_undated(shared_demo_app: Flask) -> None:
    """DEC-021..024 (2021/22) carry no signed date: counted as undated, never on time."""
    rows = _decisions()
    unsigned = [f"MOPAC-DEC-0{n}" for n in (21, 22, 23, 24)]
    assert all(not rows[r]["date_signed"].strip() for r in unsigned)
    answer = _get(shared_demo_app, "by=programme&programme=lcpf-cc&financial_year=2021/22")
    totals = answer["totals"]
    assert totals["awards"] == totals["undated_awards"] == len(unsigned)
    assert totals["late_awards"] == 0
    assert any(f"{totals['undated_awards']} of {totals['awards']} awards are undated" in n
               for n in answer["notes"])  # fmt: skip


def test_by_borough_keeps_london_wide_awards_apart(shared_demo_app: Flask) -> None:
    """The late PCD 203 awards are London-wide: in london_wide, in no borough."""
    answer = _get(shared_demo_app, "by=borough&financial_year=2017/18")
    assert len(answer["boroughs"]) == 33
    assert answer["london_wide"]["late_awards"] == 2
    assert sum(b["late_awards"] for b in answer["boroughs"]) == 0
    kingston = _get(shared_demo_app, "by=programme&area=Kingston")
    assert kingston["filters"]["area"]["code"] == "E09000021"


def test_other_programmes_count_only_when_asked(shared_demo_app: Flask) -> None:
    """The Wolfson Foundation's 360Giving grants of 2014/15 (education, arts …) were awarded
    on 5 June and 4 December 2014, after the year began: not community safety, so counted
    only with include_other_programmes."""
    query = "by=financial_year&financial_year=2014/15"
    assert _get(shared_demo_app, query)["totals"]["late_awards"] == 0
    wide = _get(shared_demo_app, query + "&include_other_programmes=true")["totals"]
    assert wide["late_awards"] > 0
    assert wide["worst_days"] == (date(2014, 12, 4) - date(2014, 4, 1)).days == 247


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [("by=ward", 422, "invalid-input"), ("area=Atlantis", 404, "area-not-found")],
)
def test_bad_input_is_a_problem(sqlite_demo_app: Flask, query: str, status: int, code: str) -> None:
    res = sqlite_demo_app.test_client().get(f"{URL}?{query}")
    assert res.status_code == status and res.mimetype == "application/problem+json"
    assert res.get_json()["code"] == code
