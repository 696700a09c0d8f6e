"""The funding headline (issue 13 §2) on the demo directory, on SQLite and PostgreSQL: a
borough's own awards apart from the shared, BCU-wide and London-wide awards that reach it.

The demo directory's community-safety money is almost all London-wide LCPF decisions, so
the old "all awards reaching Lambeth" figure was about the same for every borough. Three
awards are added to the demo so that every scope has money: one to Lambeth's BCU, one
shared by Lambeth and Croydon, one to a Lambeth ward. Expected figures are worked out here
from the database's grant rows and area table, not from the application's facts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from flask import Flask
from sqlalchemy import select

from directory.app import create_app
from directory.cli import cli
from directory.ingest.template import HEADINGS
from directory.store.models import Area, AreaPopulation, Grant, GrantArea, Organisation
from directory.usecases.opportunities import LONDON_TZ
from tests.conftest import demo_copy

LAMBETH, SOUTHWARK, CROYDON, HARINGEY = "E09000022", "E09000028", "E09000008", "E09000014"
LONDON, CENTRAL_SOUTH, CITY = "E12000007", "bcu-central-south", "E09000001"
DISTRICT = "E23000001"  # the Metropolitan Police District: London but the City
TODAY = datetime.now(LONDON_TZ).date()  # (the API's today: London's)


def _rows(ward: str) -> str:
    """A BCU-wide, a shared and a ward award, live today (so the patch counts them too)."""
    start, end = "2024-04-01", (TODAY + timedelta(days=400)).isoformat()
    rows = [
        ("BCU", CENTRAL_SOUTH, "VRU", "£40,000"),
        ("SHARED", "Lambeth; Croydon", "LCPF", "£24,000"),
        ("WARD", ward, "SNB", "£7,000"),
    ]
    return template_text(
        {
            "Service ref": f"HL-{ref}", "Service name": f"Headline {ref.lower()} service",
            "Organisation name": f"Headline {ref.lower()} charity", "Coverage": coverage,
            "Themes": "Youth diversion", "Grant ref": f"HL-{ref}-G", "Funder": "MOPAC",
            "Programme": programme, "Amount": amount, "Start date": start, "End date": end,
        }
        for ref, coverage, programme, amount in rows
    )  # fmt: skip


def template_text(records: Iterable[dict[str, str]]) -> str:
    """The import template's CSV (its headings) holding ``records``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADINGS)
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """The demo directory (with the population and crime figures it loads) and the three
    awards above, once per backend for this module."""
    tmp = tmp_path_factory.mktemp("headline")
    app = create_app(demo_copy(request, request.param, tmp))
    runner = app.test_cli_runner()
    ward = min(
        r.code
        for r in _db(app, select(Area.code).where(Area.parent_code == LAMBETH, Area.type == "ward"))
    )
    path = tmp / "headline.csv"
    path.write_text(_rows(ward), encoding="utf-8")
    result = runner.invoke(cli, ["import", str(path), "--source", "headline-test"])
    assert result.exit_code == 0, result.output[-2000:]
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture()
def client(demo_app: Flask) -> Any:
    return demo_app.test_client()


def _db(app: Flask, statement: Any) -> list[Any]:
    with app.extensions["directory"].db.engine.connect() as connection:
        return list(connection.execute(statement))


def get(client: Any, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


# -- the oracle: every award of every programme, from the grant rows ------------------------
@dataclass(frozen=True)
class Award:
    ref: str
    pence: int
    areas: frozenset[str]
    parent: str | None = None  # Paid through: the ref of an award the directory holds
    financial_year: str | None = None
    programme: str | None = None
    recipient: str | None = None  # the recipient organisation's ref


@dataclass(frozen=True)
class Oracle:
    awards: list[Award]
    parent: dict[str, str | None]
    kind: dict[str, str]
    population: dict[str, int]
    #: every listed award, regrants too (``awards`` leaves out those paid through another)
    every: tuple[Award, ...] = ()

    def counted(self, chosen: list[Award]) -> list[Award]:
        """Of the awards an answer's filters choose, those it counts: a regrant is left out
        when an award it was paid through (its parent, the parent's parent…) is chosen."""
        refs = {a.ref for a in chosen}
        parent = {a.ref: a.parent for a in self.every}

        def above_chosen(ref: str) -> bool:
            seen = {ref}
            up = parent.get(ref)
            while up is not None and up in parent and up not in seen:
                if up in refs:
                    return True
                seen.add(up)
                up = parent[up]
            return False

        return [a for a in chosen if not above_chosen(a.ref)]

    def inside(self, code: str, area: str) -> bool:
        while code is not None:
            if code == area:
                return True
            code = self.parent.get(code)  # type: ignore[assignment]
        return False

    def scope(self, award: Award, borough: str) -> str | None:
        """None if the award does not reach the borough."""
        bcu = self.parent[borough]
        if LONDON in award.areas or (DISTRICT in award.areas and self.inside(borough, DISTRICT)):
            return "london_wide"
        if bcu in award.areas:
            return "bcu_wide"
        mine = {c for c in award.areas if self.inside(c, borough)}
        if not mine:
            return None
        return "own" if mine == award.areas else "shared"

    def by_scope(self, borough: str) -> dict[str, list[Award]]:
        out: dict[str, list[Award]] = {"own": [], "shared": [], "bcu_wide": [], "london_wide": []}
        for award in self.awards:
            scope = self.scope(award, borough)
            if scope is not None:
                out[scope].append(award)
        return out

    def boroughs(self, award: Award) -> set[str]:
        """The boroughs an award names, itself or through one of its wards."""
        return {
            code if self.kind[code] == "borough" else self.parent[code]  # type: ignore[misc]
            for code in award.areas
            if self.kind[code] in ("borough", "ward")
        }


OracleT = TypeVar("OracleT", bound=Oracle)


@pytest.fixture(scope="module")
def oracle(demo_app: Flask) -> Oracle:
    return read_awards(demo_app, Oracle)


def read_awards(app: Flask, kind: type[OracleT]) -> OracleT:
    """Listed awards that are not regrants (paid through an award the directory holds), with
    their beneficiary areas, the area tree and the populations, read from the database; and
    every listed award, regrants too, with its parent, financial year and programme."""
    grants = _db(
        app,
        select(
            Grant.id, Grant.ref, Grant.amount_pence, Grant.parent_ref, Grant.financial_year,
            Grant.programme_id, Organisation.ref.label("recipient"),
        )
        .join(Organisation, Organisation.id == Grant.recipient_id)
        .where(Grant.withdrawn_at.is_(None)),
    )  # fmt: skip
    refs = {g.ref for g in grants}
    areas: dict[int, set[str]] = {}
    for row in _db(app, select(GrantArea.grant_id, GrantArea.area_code)):
        areas.setdefault(row.grant_id, set()).add(row.area_code)
    every = tuple(
        Award(
            g.ref,
            g.amount_pence or 0,
            frozenset(areas.get(g.id, ())),
            g.parent_ref if g.parent_ref in refs and g.parent_ref != g.ref else None,
            g.financial_year,
            g.programme_id,
            g.recipient,
        )  # fmt: skip
        for g in grants
    )
    awards = [a for a in every if a.parent is None]
    tree = _db(app, select(Area.code, Area.parent_code, Area.type))
    population: dict[str, int] = {}
    for p in _db(
        app,
        select(AreaPopulation.area_code, AreaPopulation.all_ages).order_by(
            AreaPopulation.reference_date
        ),
    ):
        population[p.area_code] = p.all_ages
    return kind(
        awards, {a.code: a.parent_code for a in tree}, {a.code: a.type for a in tree}, population,
        every,
    )  # fmt: skip


def pounds(awards: list[Award]) -> float:
    return sum(a.pence for a in awards) / 100


ALL = "include_other_programmes=true"


# -- the headline --------------------------------------------------------------------------
def test_own_headlines_differ_between_boroughs_and_are_far_below_london_wide(client, oracle):
    answers = {
        code: get(client, f"/api/v1/funding/summary?by=programme&area={code}&{ALL}")
        for code in (LAMBETH, HARINGEY)
    }
    for code, body in answers.items():
        expected = oracle.by_scope(code)
        head = body["headline"]
        assert head["area"]["code"] == code
        for scope, awards in expected.items():
            assert head[scope]["awards"] == len(awards), (code, scope)
            assert head[scope]["amount"] == pytest.approx(pounds(awards), abs=0.01), (code, scope)
        # the old headline: every award reaching the borough, London-wide ones in full
        assert body["totals"]["amount"] == pytest.approx(
            sum(pounds(a) for a in expected.values()), abs=0.01
        )
        assert head["own"]["amount"] < head["london_wide"]["amount"] / 10
        assert head["own"]["amount"] < body["totals"]["amount"] / 10
    lambeth, haringey = (answers[c]["headline"] for c in (LAMBETH, HARINGEY))
    assert lambeth["own"]["amount"] > 0 and haringey["own"]["amount"] > 0
    assert lambeth["own"]["amount"] != haringey["own"]["amount"]
    # the same London-wide money reaches both, shown at its own scope, shared by 33 boroughs
    # (London's) or 32 (the Metropolitan Police District's: the LCPF's direct borough funding)
    assert lambeth["london_wide"] == {**haringey["london_wide"]}
    assert lambeth["london_wide"]["areas"] == [
        {"code": LONDON, "name": "London", "type": "region"},
        {"code": DISTRICT, "name": "Metropolitan Police District", "type": "police_area"},
    ]
    assert lambeth["london_wide"]["areas_sharing"] == 33
    # Lambeth's BCU-wide award, shared with the BCU's other borough
    assert (lambeth["bcu_wide"]["awards"], lambeth["bcu_wide"]["amount"]) == (1, 40_000)
    assert [a["code"] for a in lambeth["bcu_wide"]["areas"]] == [CENTRAL_SOUTH]
    bcu_boroughs = sorted(c for c, p in oracle.parent.items() if p == CENTRAL_SOUTH)
    assert (
        [a["code"] for a in lambeth["bcu_wide"]["shared_with"]]
        == [c for c in bcu_boroughs if c != LAMBETH]
        == [SOUTHWARK]
    )
    assert lambeth["bcu_wide"]["areas_sharing"] == len(bcu_boroughs)
    # the award Lambeth shares with Croydon: in full, with Lambeth's equal half beside it
    assert [a["code"] for a in lambeth["shared"]["shared_with"]] == [CROYDON]
    assert lambeth["shared"]["equal_share"] == pytest.approx(
        sum(a.pence / len(oracle.boroughs(a)) for a in oracle.by_scope(LAMBETH)["shared"]) / 100
    )
    assert "own" in lambeth["rule"] and "london_wide" in lambeth["rule"]
    assert lambeth["apportionment"]["method"] == "none"
    assert lambeth["apportionment"]["amount"] is None


def test_the_scopes_add_up_to_the_old_reaching_total_for_every_borough(client):
    boroughs = get(client, "/api/v1/funding/summary?by=borough")["boroughs"]
    assert len(boroughs) == 33
    rows = {b["area"]["code"]: b for b in boroughs}
    for code, row in rows.items():
        body = get(client, f"/api/v1/funding/summary?by=programme&area={code}")
        head, totals = body["headline"], body["totals"]
        scopes = [s for s in ("own", "shared", "bcu_wide", "london_wide") if s in head]
        assert scopes == (
            ["own", "shared", "london_wide"] if code == CITY else ["own", "shared", "bcu_wide", "london_wide"]
        )  # fmt: skip
        assert (
            sum(head[s]["awards"] for s in scopes) == totals["awards"] == head["reaching"]["awards"]
        )
        assert sum(head[s]["amount"] for s in scopes) == pytest.approx(totals["amount"], abs=0.01)
        assert head["reaching"]["amount"] == totals["amount"]
        # the borough's row of by=borough: its own awards and its equal share of shared ones
        assert head["own"]["amount"] + head["shared"]["equal_share"] == pytest.approx(
            row["amount"], abs=0.01
        )
        # each programme's money by scope adds up to the programme's, and to the headline
        for group in body["groups"]:
            assert sum(v["amount"] for v in group["scopes"].values()) == pytest.approx(
                group["amount"], abs=0.01
            )
            assert sum(v["awards"] for v in group["scopes"].values()) == group["awards"]
        for scope in scopes:
            assert sum(g["scopes"][scope]["amount"] for g in body["groups"]) == pytest.approx(
                head[scope]["amount"], abs=0.01
            )
        if code == CITY:
            assert "City of London Police" in head["note"]


def test_apportion_by_population_gives_the_documented_shares(client, oracle):
    pop = oracle.population
    london = sum(v for c, v in pop.items() if oracle.kind[c] == "borough")
    district = london - pop[CITY]
    central_south = pop[LAMBETH] + pop[SOUTHWARK]
    body = get(client, f"/api/v1/funding/summary?by=programme&area=Lambeth&apportion=population&{ALL}")  # fmt: skip
    head = body["headline"]
    expected = oracle.by_scope(LAMBETH)
    parts = {
        "own": pounds(expected["own"]),
        "shared": sum(a.pence / len(oracle.boroughs(a)) for a in expected["shared"]) / 100,
        "bcu_wide": pounds(expected["bcu_wide"]) * pop[LAMBETH] / central_south,
        # London's money by the share of London's population, the District's (the 32
        # boroughs') by the share of the District's
        "london_wide": sum(
            a.pence * pop[LAMBETH] / (district if DISTRICT in a.areas else london)
            for a in expected["london_wide"]
        )
        / 100,
    }
    for scope, amount in parts.items():
        assert head[scope]["apportioned_amount"] == pytest.approx(amount, abs=0.01), scope
        assert head[scope]["amount"] == pytest.approx(pounds(expected[scope]), abs=0.01)
    apportionment = head["apportionment"]
    assert apportionment["method"] == "population" and apportionment["available"] is True
    assert apportionment["amount"] == pytest.approx(sum(parts.values()), abs=0.02)
    assert "share of London's population" in apportionment["rule"]
    assert "share of its BCU's population" in apportionment["rule"]
    assert apportionment["population"]["reference_date"] == "2022-06-30"
    # the same figure as the borough's apportioned_amount in by=borough
    by_borough = get(client, f"/api/v1/funding/summary?by=borough&apportion=population&{ALL}")
    row = next(b for b in by_borough["boroughs"] if b["area"]["code"] == LAMBETH)
    assert row["apportioned_amount"] == pytest.approx(apportionment["amount"], abs=0.02)
    # a BCU: its boroughs' awards are its own; London-wide money by its share of London
    bcu = get(client, f"/api/v1/funding/summary?by=programme&area={CENTRAL_SOUTH}&apportion=population&{ALL}")["headline"]  # fmt: skip
    by_bcu = get(client, f"/api/v1/funding/summary?by=bcu&apportion=population&{ALL}")
    row = next(b for b in by_bcu["bcus"] if b["area"]["code"] == CENTRAL_SOUTH)
    assert bcu["apportionment"]["amount"] == pytest.approx(row["apportioned_amount"], abs=0.02)
    assert bcu["london_wide"]["apportioned_amount"] == pytest.approx(
        sum(
            a.pence * central_south / (district if DISTRICT in a.areas else london)
            for a in expected["london_wide"]
        )
        / 100,
        abs=0.01,
    )
    assert "bcu_wide" not in bcu and bcu["london_wide"]["areas_sharing"] == 12


# -- each group's apportioned amount ------------------------------------------------------
def reaches(oracle: Oracle, award: Award, area: str) -> bool:
    return any(oracle.inside(c, area) or oracle.inside(area, c) for c in award.areas)


def _population(oracle: Oracle, area: str) -> int:
    """A borough's population, or the sum of the boroughs' inside a wider area."""
    return sum(
        v for c, v in oracle.population.items() if oracle.kind[c] == "borough" and oracle.inside(c, area)
    )  # fmt: skip


def _bcus(oracle: Oracle, award: Award) -> set[str]:
    """The BCUs an award names, itself or through a borough or ward in it (the City of
    London, in no BCU, stands for itself)."""
    out = set()
    for code in award.areas:
        while oracle.kind[code] in ("ward", "borough"):
            if oracle.kind[oracle.parent[code]] not in ("ward", "borough", "bcu"):  # the City
                break
            code = oracle.parent[code]  # type: ignore[assignment]
        out.add(code)
    return out


def _apportioned_part(oracle: Oracle, award: Award, area: str) -> float:
    """The pence of an award reaching ``area`` that apportion=population counts there, by
    the rule the README states: the area's own money in full, money shared with areas of
    its level equally, BCU-wide money by the borough's share of its BCU's population,
    London's by its share of London's and the Metropolitan Police District's by its share
    of the District's (the District: the sum of its boroughs' parts; London: in full)."""
    kind = oracle.kind[area]
    if kind == "region":
        return award.pence
    if kind == "police_area":
        boroughs = [c for c, k in oracle.kind.items() if k == "borough" and oracle.inside(c, area)]
        return sum(
            _apportioned_part(oracle, award, b) for b in boroughs if reaches(oracle, award, b)
        )
    pop = _population(oracle, area)
    if LONDON in award.areas:
        return award.pence * pop / _population(oracle, LONDON)
    if DISTRICT in award.areas:
        return (
            award.pence * pop / _population(oracle, DISTRICT)
            if oracle.inside(area, DISTRICT)
            else 0
        )
    if kind == "bcu":
        bcus = _bcus(oracle, award)
        return award.pence / len(bcus) if area in bcus else 0
    scope = oracle.scope(award, area)
    if scope == "bcu_wide":
        return award.pence * pop / _population(oracle, oracle.parent[area])  # type: ignore[arg-type]
    if scope == "shared":
        return award.pence / len(oracle.boroughs(award))
    return award.pence if scope == "own" else 0


def _group_of(award: Award, by: str) -> str | None:
    return {"programme": award.programme, "financial_year": award.financial_year,
            "organisation": award.recipient}[by]  # fmt: skip


def _label(group: dict[str, Any], by: str) -> str | None:
    label = group[by]
    if by == "financial_year" or label is None:
        return label  # type: ignore[no-any-return]
    return label["id" if by == "programme" else "ref"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("by", ["programme", "financial_year", "organisation"])
@pytest.mark.parametrize(
    "area", [LAMBETH, HARINGEY, CROYDON, CITY, CENTRAL_SOUTH, DISTRICT, LONDON]
)
def test_each_group_has_its_apportioned_amount_and_they_add_up_to_the_headlines(
    client, oracle, area, by
):
    """by=programme, financial_year and organisation: each group's apportioned_amount is
    its awards' parts by the headline's rule, and the groups (each award in one) add up to
    the headline's to the penny."""
    body = get(client, f"/api/v1/funding/summary?by={by}&area={area}&apportion=population&{ALL}")
    counted = oracle.counted([a for a in oracle.every if reaches(oracle, a, area)])
    expected: dict[str | None, list[float]] = {}
    for award in counted:
        expected.setdefault(_group_of(award, by), []).append(_apportioned_part(oracle, award, area))
    groups = {_label(g, by): g for g in body["groups"]}
    assert groups.keys() == expected.keys()
    for key, parts in expected.items():
        assert groups[key]["awards"] == len(parts), key
        # rounded so that the groups add up: each within a penny of its own exact sum
        assert abs(groups[key]["apportioned_amount"] - sum(parts) / 100) < 0.01 + 1e-6, key
    headline = body["headline"]["apportionment"]["amount"]
    assert headline == pytest.approx(sum(map(sum, expected.values())) / 100, abs=0.01)
    assert sum(round(g["apportioned_amount"] * 100) for g in body["groups"]) == round(
        headline * 100
    )
    if area != LONDON:  # wider money is counted by population share, not in full
        assert headline < body["totals"]["amount"]


def test_a_wards_groups_are_not_apportioned(client, oracle):
    """There are no ward populations: the groups have no apportioned_amount, and asking is
    a 422."""
    ward = min(c for c, p in oracle.parent.items() if p == LAMBETH and oracle.kind[c] == "ward")
    for by in ("programme", "financial_year", "organisation"):
        body = get(client, f"/api/v1/funding/summary?by={by}&area={ward}&{ALL}")
        assert all("apportioned_amount" not in g for g in body["groups"]), by
        query = f"by={by}&area={ward}&apportion=population"
        assert client.get(f"/api/v1/funding/summary?{query}").status_code == 422, by


def test_a_ward_headline_has_its_borough_wide_awards_and_no_apportionment(client, oracle):
    ward = min(c for c, p in oracle.parent.items() if p == LAMBETH and oracle.kind[c] == "ward")
    head = get(client, f"/api/v1/funding/summary?by=programme&area={ward}&{ALL}")["headline"]
    assert (head["own"]["awards"], head["own"]["amount"]) == (1, 7_000)  # the ward award
    # awards naming the whole of Lambeth (alone or with other areas), not its BCU or London
    lambeth_wide = [
        a for a in oracle.awards if LAMBETH in a.areas and not {LONDON, CENTRAL_SOUTH} & a.areas
    ]
    assert head["borough_wide"]["amount"] == pytest.approx(pounds(lambeth_wide), abs=0.01)
    assert [a["code"] for a in head["borough_wide"]["areas"]] == [LAMBETH]
    assert head["borough_wide"]["areas_sharing"] == sum(
        1 for c, p in oracle.parent.items() if p == LAMBETH
    )
    assert "shared_with" not in head["london_wide"]
    response = client.get(f"/api/v1/funding/summary?by=programme&area={ward}&apportion=population")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "no ward populations" in response.json["errors"]["apportion"][0]
    for query in ("by=ward&area=Lambeth", "by=programme", "by=financial_year"):
        response = client.get(f"/api/v1/funding/summary?{query}&apportion=population")
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
    # by=borough with a ward as area keeps working; the ward's headline says why not
    head = get(client, f"/api/v1/funding/summary?by=borough&area={ward}&apportion=population")[
        "headline"
    ]
    assert head["apportionment"]["available"] is False
    assert "no ward populations" in head["apportionment"]["rule"]


def test_no_area_no_headline(client):
    body = get(client, "/api/v1/funding/summary?by=programme")
    assert "headline" not in body and all("scopes" not in g for g in body["groups"])


@pytest.mark.parametrize(
    "query",
    # (Haringey in October 2020: awards shared with other boroughs, a part of each its own)
    ["area=Lambeth", "postcode=SW2 1RW", "area=Central South", "area=Haringey&live_on=2020-10-01"],
)
def test_the_patch_funding_has_the_same_headline_as_the_summary(client, query):
    funding = get(client, f"/api/v1/patch?{query}&per_page=1")["funding"]
    head = funding["headline"]
    area = head["area"]["code"]
    summary = get(
        client, f"/api/v1/funding/summary?by=programme&area={area}&live_on={funding['live_on']}"
    )["headline"]
    for scope in ("own", "shared", "borough_wide", "bcu_wide", "london_wide", "reaching"):
        assert (scope in head) == (scope in summary), scope
        if scope in head:  # every member the summary gives (the population shares aside)
            members = set(summary[scope]) - {"apportioned_amount"}
            assert set(head[scope]) == members, scope
            for key in members:
                if isinstance(summary[scope][key], float):
                    assert head[scope][key] == pytest.approx(summary[scope][key], abs=0.01)
                else:
                    assert head[scope][key] == summary[scope][key], (scope, key)
    if head["area"]["type"] in ("borough", "bcu"):  # the part of shared awards counted here
        assert head["shared"]["equal_share"] == pytest.approx(
            summary["shared"]["equal_share"], abs=0.01
        )
    if query.startswith("area=Haringey"):
        assert 0 < head["shared"]["equal_share"] < head["shared"]["amount"]
    assert head["reaching"]["amount"] == pytest.approx(funding["amount"], abs=0.01)
    assert head["own"]["amount"] < funding["amount"]
    for row in funding["by_programme"]:
        assert sum(v["amount"] for v in row["scopes"].values()) == pytest.approx(
            row["amount"], abs=0.01
        )
    if query.startswith("postcode"):
        assert head["area"]["type"] == "ward" and "borough_wide" in head
