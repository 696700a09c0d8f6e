"""Regrants in the funding answers, on SQLite and PostgreSQL: a regrant (paid through another
award the directory holds) is left out of an answer only when an award it was paid through
is counted in that same answer.

The demo directory holds two: PCD 421 (2019/20, lcpf-direct) and PCD 310 (2018/19,
lcpf-cc), both paid through PCD 79 (2017/18, lcpf-direct, £72m). Until 6 December every
answer dropped them, so `financial_year=2019-20` answered £0 and `programme=lcpf-cc` counted
PCD 310's £2,996,940 nowhere. Expected figures are worked out here from the grant rows
(:func:`read_awards`), not from the application's facts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from directory.app import create_app
from directory.cli import cli
from directory.store.models import Area, Grant
from tests.conftest import BACKENDS, demo_copy
from tests.directory.test_funding_headline import (
    TODAY,
    Award,
    Oracle,
    _db,
    get,
    reaches,
    read_awards,
    template_text,
)

ALL = "include_other_programmes=true"
PCD_421, PCD_310 = "MOPAC-DEC-025", "MOPAC-DEC-018"


def pounds(awards: list[Award]) -> float:
    return round(sum(a.pence for a in awards) / 100, 2)


@pytest.fixture()
def demo(shared_demo_app: Flask) -> Oracle:
    return read_awards(shared_demo_app, Oracle)


def _ref(demo: Oracle, decision: str) -> Award:
    """The demo's award made from a MOPAC decision record."""
    (award,) = [a for a in demo.every if a.ref == decision]
    return award


def _left_out(chosen: list[Award], counted: list[Award]) -> dict[str, Any]:
    rest = [a for a in chosen if a not in counted]
    return {"awards": len(rest), "amount": pounds(rest)}


# -- the demo's two regrants ---------------------------------------------------------------------
def test_the_demo_regrants_are_paid_through_an_award_of_another_year_and_programme(demo):
    pcd_421, pcd_310 = _ref(demo, PCD_421), _ref(demo, PCD_310)
    assert pcd_421.parent == pcd_310.parent
    parent = next(a for a in demo.every if a.ref == pcd_421.parent)
    assert (pcd_421.financial_year, pcd_310.financial_year) == ("2019/20", "2018/19")
    assert parent.financial_year == "2017/18"
    assert (pcd_421.programme, pcd_310.programme, parent.programme) == (
        "lcpf-direct", "lcpf-cc", "lcpf-direct",
    )  # fmt: skip
    assert (pcd_421.pence, pcd_310.pence) == (2_621_037_000, 299_694_000)


def test_a_year_counts_the_regrant_whose_parent_is_in_another_year(shared_client):
    """2019/20's only award is PCD 421: it answered 0 awards, £0, with £26,210,370 left out."""
    body = get(shared_client, "/api/v1/funding/summary?by=programme&financial_year=2019-20")
    assert (body["totals"]["awards"], body["totals"]["amount"]) == (1, 26_210_370.00)
    assert body["regrants_left_out"] == {"awards": 0, "amount": 0.0}
    body = get(shared_client, "/api/v1/funding/summary?by=programme&financial_year=2018-19")
    assert body["regrants_left_out"] == {"awards": 0, "amount": 0.0}
    assert body["totals"]["amount"] >= 2_996_940.00


# -- every year and every programme, against the grant rows --------------------------------------
def _years(demo: Oracle) -> list[str]:
    return sorted({a.financial_year for a in demo.every if a.financial_year})


def _programmes(demo: Oracle) -> list[str]:
    return sorted({a.programme for a in demo.every if a.programme})


def test_every_financial_year_counts_what_the_rule_selects(shared_client, demo):
    for year in _years(demo):
        chosen = [a for a in demo.every if a.financial_year == year]
        counted = demo.counted(chosen)
        query = f"financial_year={year.replace('/', '-')}&{ALL}"
        for path in ("summary?by=programme", "timeliness?by=programme"):
            body = get(shared_client, f"/api/v1/funding/{path}&{query}")
            assert body["totals"]["awards"] == len(counted), (path, year)
            assert body["regrants_left_out"] == _left_out(chosen, counted), (path, year)
        summary = get(shared_client, f"/api/v1/funding/summary?by=programme&{query}")
        assert summary["totals"]["amount"] == pytest.approx(pounds(counted), abs=0.005), year


def test_every_programme_counts_what_the_rule_selects(shared_client, demo):
    for programme in _programmes(demo):
        chosen = [a for a in demo.every if a.programme == programme]
        counted = demo.counted(chosen)
        query = f"programme={programme}"
        body = get(shared_client, f"/api/v1/funding/summary?by=financial_year&{query}")
        assert body["totals"]["awards"] == len(counted), programme
        assert body["totals"]["amount"] == pytest.approx(pounds(counted), abs=0.005), programme
        assert body["regrants_left_out"] == _left_out(chosen, counted), programme
        timeliness = get(shared_client, f"/api/v1/funding/timeliness?by=financial_year&{query}")
        assert timeliness["totals"]["awards"] == len(counted), programme
        detail = get(shared_client, f"/api/v1/programmes/{programme}")["allocations"]["totals"]
        assert (detail["awards"], detail["amount"]) == (
            len(counted),
            pytest.approx(pounds(counted), abs=0.005),
        ), programme


def test_the_co_commissioning_fund_counts_pcd_310(shared_client, demo):
    """The parent is in lcpf-direct: without it in the answer, PCD 310 is counted (it was
    left out, and its money counted nowhere in the answer)."""
    body = get(shared_client, "/api/v1/funding/summary?by=programme&programme=lcpf-cc")
    cc = [a for a in demo.every if a.programme == "lcpf-cc"]
    assert _ref(demo, PCD_310) in cc
    assert body["totals"]["awards"] == len(cc)
    assert body["totals"]["amount"] == pytest.approx(pounds(cc), abs=0.005)
    assert body["totals"]["amount"] >= 2_996_940.00
    assert body["regrants_left_out"]["awards"] == 0
    timeliness = get(shared_client, "/api/v1/funding/timeliness?by=programme&programme=lcpf-cc")
    assert timeliness["totals"]["awards"] == len(cc)
    assert timeliness["regrants_left_out"]["awards"] == 0


@pytest.mark.parametrize("by", ["financial_year", "programme"])
def test_the_groups_add_up_to_the_unfiltered_total_counting_no_money_twice(shared_client, demo, by):
    body = get(shared_client, f"/api/v1/funding/summary?by={by}&{ALL}")
    counted = demo.counted(list(demo.every))
    assert {a.ref for a in counted} == {a.ref for a in demo.awards}  # no regrant: both parents in
    assert body["totals"]["awards"] == len(counted)
    assert body["totals"]["amount"] == pytest.approx(pounds(counted), abs=0.005)
    assert sum(g["awards"] for g in body["groups"]) == len(counted)
    assert sum(g["amount"] for g in body["groups"]) == pytest.approx(pounds(counted), abs=0.01)
    assert body["regrants_left_out"] == _left_out(list(demo.every), counted)
    assert {PCD_421, PCD_310} <= {a.ref for a in demo.every if a not in counted}


def test_the_programme_list_counts_each_regrant_once(shared_client, demo):
    """/programmes is one answer over the programmes it lists: PCD 421 and PCD 310 are in
    their parent's lcpf-direct, not again in their own rows."""
    body = get(shared_client, f"/api/v1/programmes?per_page=100&{ALL}")
    with_programme = [a for a in demo.every if a.programme]
    counted = demo.counted(with_programme)
    assert sum(p["awards"] for p in body["contents"]) == len(counted)
    assert sum(p["amount"] for p in body["contents"]) == pytest.approx(pounds(counted), abs=0.01)
    cc = next(p for p in body["contents"] if p["id"] == "lcpf-cc")
    assert cc["awards"] == len([a for a in counted if a.programme == "lcpf-cc"])


# -- what an organisation passed on ---------------------------------------------------------
SNB, OXYGEN = "org:kingston-safer-neighbourhood-board", "org:oxygen"
BOROUGHS, ADVANCE = "org:32-london-boroughs", "GB-CHC-1086873"
KINGSTON = "E09000021"


def _passed_on(counted: list[Award], chosen: list[Award]) -> dict[str, dict[str, Any]]:
    """Of the awards an answer's filters choose, those paid through one of its counted
    awards (their parent) to another organisation, by the parent's recipient."""
    parents = {a.ref: a for a in counted}
    out: dict[str, list[Award]] = {}
    for award in chosen:
        parent = parents.get(award.parent or "")
        if parent is not None and parent.recipient != award.recipient:
            out.setdefault(parent.recipient or "", []).append(award)
    return {ref: {"awards": len(awards), "amount": pounds(awards)} for ref, awards in out.items()}


def _organisations(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["organisation"]["ref"]: g for g in body["groups"]}


@pytest.mark.parametrize("include_regrants", ["false", "true"])
def test_an_organisation_shows_what_it_passed_on_beside_the_whole_of_what_it_received(
    shared_client, demo, include_regrants
):
    """by=organisation credits an intermediary with the whole of each award (amount, as
    before) and says how much of it went on through the answer's other awards."""
    query = f"by=organisation&include_regrants={include_regrants}&{ALL}"
    groups = _organisations(get(shared_client, f"/api/v1/funding/summary?{query}"))
    chosen = list(demo.every)
    counted = chosen if include_regrants == "true" else demo.counted(chosen)
    expected = _passed_on(counted, chosen)
    assert expected.keys() == {SNB, BOROUGHS}
    for ref, group in groups.items():
        assert group["passed_on"] == expected.get(ref, {"awards": 0, "amount": 0.0}), ref
        received = [a for a in counted if a.recipient == ref]
        assert group["amount"] == pytest.approx(pounds(received), abs=0.005), ref
    # MOPAC → Kingston SNB (£31,250) → Oxygen (£6,000): the SNB kept £25,250 of it
    assert groups[SNB]["amount"] == 31_250.00
    assert groups[SNB]["passed_on"] == {"awards": 1, "amount": 6_000.00}
    # PCD 79's £72m: PCD 310 went on to Advance; PCD 421 is the 32 boroughs' own
    assert groups[BOROUGHS]["passed_on"] == {"awards": 1, "amount": 2_996_940.00}
    assert groups[ADVANCE]["passed_on"] == {"awards": 0, "amount": 0.0}
    assert (OXYGEN in groups) == (include_regrants == "true")


@pytest.mark.parametrize(
    ("query", "chosen"),
    [
        ("area=Kingston upon Thames", lambda demo, a: reaches(demo, a, KINGSTON)),
        # PCD 310 (2018/19) is in another year's answer than PCD 79: not passed on in this one
        ("financial_year=2017-18", lambda demo, a: a.financial_year == "2017/18"),
        # PCD 310 is counted, PCD 79 not being in the answer: nothing passed it on here
        ("programme=lcpf-cc", lambda demo, a: a.programme == "lcpf-cc"),
        ("programme=snb", lambda demo, a: a.programme == "snb"),
    ],
    ids=["kingston", "2017-18", "lcpf-cc", "snb"],
)
def test_what_an_organisation_passed_on_is_counted_in_the_same_answer(
    shared_client, demo, query, chosen
):
    body = get(shared_client, f"/api/v1/funding/summary?by=organisation&{query}&{ALL}")
    picked = [a for a in demo.every if chosen(demo, a)]
    expected = _passed_on(demo.counted(picked), picked)
    for ref, group in _organisations(body).items():
        assert group["passed_on"] == expected.get(ref, {"awards": 0, "amount": 0.0}), ref
    assert sum(g["passed_on"]["awards"] for g in body["groups"]) == sum(
        e["awards"] for e in expected.values()
    )
    if "snb" in query or "Kingston" in query:
        assert expected[SNB] == {"awards": 1, "amount": 6_000.00}
    else:
        assert BOROUGHS not in expected


# -- the patch: a regrant whose parent does not reach it ---------------------------------------
FUND = "Regrant test crime fund"
LAMBETH, CROYDON = "E09000022", "E09000008"


def _rows(ward_x: str) -> str:
    """Six live awards of one programme: RG-R1 (Lambeth) paid through RG-P (Croydon);
    RG-R2 (ward X) through RG-L (Lambeth); RG-R3 (Lambeth) through RG-W (ward X)."""
    start, end = "2024-04-01", (TODAY + timedelta(days=400)).isoformat()
    rows = [
        ("P", "Croydon", "£10,000", ""),
        ("R1", "Lambeth", "£3,000", "RG-P"),
        ("L", "Lambeth", "£5,000", ""),
        ("R2", ward_x, "£2,000", "RG-L"),
        ("W", ward_x, "£7,000", ""),
        ("R3", "Lambeth", "£1,000", "RG-W"),
    ]
    return template_text(
        {
            "Service ref": f"RG-{ref}-S", "Service name": f"Regrant {ref} service",
            "Organisation name": f"Regrant {ref} charity", "Coverage": coverage,
            "Themes": "Youth diversion", "Grant ref": f"RG-{ref}", "Funder": "MOPAC",
            "Programme": FUND, "Amount": amount, "Start date": start, "End date": end,
            "Paid through": parent,
        }
        for ref, coverage, amount, parent in rows
    )  # fmt: skip


@pytest.fixture(scope="module", params=BACKENDS)
def regrant_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Flask, str, str]]:
    """The demo directory and the six awards above; Lambeth's wards X and Y."""
    tmp = tmp_path_factory.mktemp("regrants")
    app = create_app(demo_copy(request, request.param, tmp))
    with app.extensions["directory"].db.engine.connect() as connection:
        wards = sorted(
            connection.execute(
                select(Area.code).where(Area.parent_code == LAMBETH, Area.type == "ward")
            ).scalars()
        )
    path = tmp / "regrants.csv"
    path.write_text(_rows(wards[0]), encoding="utf-8")
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "regrant-test"])
    assert result.exit_code == 0, result.output[-2000:]
    yield app, wards[0], wards[1]
    app.extensions["directory"].db.dispose()


def _fund(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(r for r in rows if r[key] and r[key]["name"] == FUND)


@pytest.mark.parametrize(
    ("where", "awards", "amount"),
    [
        # RG-R1 (parent in Croydon) counted; RG-R2 and RG-R3 in their parent's money
        ("lambeth", 3, 15_000.00),
        ("ward_x", 3, 15_000.00),
        # RG-W does not reach ward Y: RG-R3, paid through it, is counted there
        ("ward_y", 3, 9_000.00),
        ("croydon", 1, 10_000.00),
    ],
)
def test_a_patch_counts_a_regrant_whose_parent_is_not_in_it(regrant_app, where, awards, amount):
    app, ward_x, ward_y = regrant_app
    area = {"lambeth": LAMBETH, "ward_x": ward_x, "ward_y": ward_y, "croydon": CROYDON}[where]
    shared_client = app.test_client()
    funding = get(shared_client, f"/api/v1/patch?area={area}&per_page=1")["funding"]
    row = _fund(funding["by_programme"], "programme")
    assert (row["awards"], row["amount"]) == (awards, amount)
    day = funding["live_on"]
    summary = get(shared_client, f"/api/v1/funding/summary?by=programme&area={area}&live_on={day}")
    group = _fund(summary["groups"], "programme")
    assert (group["awards"], group["amount"]) == (awards, amount)
    # the patch's sums composed from its areas' equal its areas' awards added one by one
    assert funding["amount"] == pytest.approx(summary["headline"]["reaching"]["amount"], abs=0.01)


@pytest.mark.parametrize("query", ["", "financial_year=2017-18", "programme=snb"])
def test_an_organisation_shows_the_money_it_received_to_pay_on_as_grants(
    shared_client, shared_demo_app, demo, query
):
    """for_onward_distribution: an organisation's counted awards made to it to pay on as
    grants (a 360Giving Regrant Type on the award), whether or not the directory holds the
    grants it made. London Community Foundation's £714,564 (PCD 203, "VCSE (multiple,
    regranted)") is such an award, though none of its small grants is listed, so passed_on
    cannot show it; Kingston SNB's projects fund is another, whose grant to Oxygen is listed.
    Expected figures come from the grant rows' regrant_type, read here by SQL."""
    typed = {
        r.ref
        for r in _db(shared_demo_app, select(Grant.ref).where(Grant.regrant_type.is_not(None)))
    }
    assert {"MOPAC-DEC-016", "demo-kingston-snb-2023-24"} <= typed
    body = get(shared_client, f"/api/v1/funding/summary?by=organisation&{query}&{ALL}")
    year = query.removeprefix("financial_year=").replace("-", "/") if "year" in query else None
    programme = query.removeprefix("programme=") if "programme" in query else None
    picked = [
        a
        for a in demo.every
        if (year is None or a.financial_year == year)
        and (programme is None or a.programme == programme)
    ]
    expected: dict[str, list[Award]] = {}
    for a in demo.counted(picked):
        if a.ref in typed:
            expected.setdefault(a.recipient, []).append(a)
    groups = _organisations(body)
    assert expected, query  # the filters keep one such award at least
    for ref, group in groups.items():
        awards = expected.get(ref, [])
        assert group["for_onward_distribution"] == {
            "awards": len(awards),
            "amount": pounds(awards),
        }, ref
    if not query:
        lcf = groups["org:london-community-foundation"]
        assert lcf["for_onward_distribution"] == {"awards": 1, "amount": 714_564.00}
        assert lcf["passed_on"] == {"awards": 0, "amount": 0.0}
