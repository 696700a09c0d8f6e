"""The demo directory: real MOPAC decisions and 360Giving grants, the Committee's named
services, and every invented detail marked demo; it loads cleanly and re-loads unchanged."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from directory.demo import DEMO_SOURCES, build_demo
from directory.ingest.apply import ImportOptions, import_batch
from directory.ingest.context import GeographyContext
from directory.ingest.records import Batch
from directory.store.repositories.geography import GeographyRepository

MOPAC = "GB-GOR-PC390"
LONDON = "E12000007"
KINGSTON = "E09000021"
TODAY = date.today()


def _build(app, data_dir: Path, today: date = TODAY):  # type: ignore[no-untyped-def]
    """(snapshot, context, batches, borough of each postcode used by a site)."""
    state = app.extensions["directory"]
    with state.db.engine.connect() as connection:
        repo = GeographyRepository(connection)
        snap = state.geography.get(repo)
        ctx = GeographyContext(snap, repo)
        batches = build_demo(data_dir, ctx, today=today)
        boroughs = {
            loc.postcode: repo.postcode(loc.postcode).borough_code
            for _, batch in batches
            for service in batch.services
            for loc in service.locations
        }
    return snap, ctx, batches, boroughs


@pytest.fixture(scope="module")
def built(geo_app, shared_data_dir):  # type: ignore[no-untyped-def]
    return _build(geo_app, shared_data_dir)


@pytest.fixture(scope="module")
def batches(built) -> dict[str, Batch]:  # type: ignore[no-untyped-def]
    return dict(built[2])


@pytest.fixture(scope="module")
def decisions_csv(shared_data_dir: Path) -> list[dict[str, str]]:
    with (shared_data_dir / "grants" / "mopac_grant_decisions_curated.csv").open(
        encoding="utf-8", newline=""
    ) as f:
        return list(csv.DictReader(f))


def test_sources_come_in_load_order_without_errors(built):
    names = [name for name, _ in built[2]]
    assert (
        names
        == list(DEMO_SOURCES)
        == ["demo-mopac-decisions", "demo-committee-services", "demo-360giving"]
    )
    for name, batch in built[2]:
        assert batch.errors == [], name
    # what the demo writes itself is clean; the real 360Giving data keeps its own warnings
    assert built[2][0][1].problems == []
    assert built[2][1][1].problems == []


def test_every_borough_has_a_spoc(built, batches):
    snap = built[0]
    boroughs = {code for code, area in snap.areas.items() if area.type == "borough"}
    assert len(boroughs) == 33
    spocs = [c for c in batches["demo-committee-services"].contacts if c.role == "Borough SPOC"]
    assert {c.area_code for c in spocs} == boroughs
    assert len(spocs) == len(boroughs)
    for contact in spocs:
        assert contact.email is not None and contact.email.startswith("spoc@")
        assert contact.email.endswith(".example.gov.uk")
    leads = [c for c in batches["demo-committee-services"].contacts if c.role == "BCU lead"]
    assert leads and all(snap.areas[c.area_code].type == "bcu" for c in leads)


def test_every_bcu_has_a_service_with_a_located_site(built):
    snap, _, all_batches, site_borough = built
    bcus = {code for code, area in snap.areas.items() if area.type == "bcu"}
    assert len(bcus) == 12
    covered = set()
    for _, batch in all_batches:
        for service in batch.services:
            for loc in service.locations:
                assert loc.ref and loc.postcode and loc.lat is not None and loc.lon is not None
                borough = site_borough[loc.postcode]
                # the site is in the borough the service covers
                assert borough in service.coverage or LONDON in service.coverage, service.ref
                covered.add(snap.areas[borough].parent_code)
    assert bcus <= covered


def test_oxygen_is_funded_through_the_kingston_snb(batches):
    committee = batches["demo-committee-services"]
    orgs = {o.ref: o for o in committee.organisations}
    grants = {g.ref: g for g in committee.grants}
    oxygen_service = next(
        s for s in committee.services if orgs[s.organisation_ref].name == "Oxygen"
    )
    assert oxygen_service.coverage == [KINGSTON]
    child = next(g for g in committee.grants if oxygen_service.ref in g.service_refs)
    assert child.recipient_ref == oxygen_service.organisation_ref
    parent = grants[child.parent_ref]
    assert parent.funder_ref == MOPAC
    assert parent.programme == "snb"
    assert orgs[parent.recipient_ref].name == "Kingston Safer Neighbourhood Board"
    assert child.funder_ref == parent.recipient_ref
    assert parent.parent_ref is None
    # 360Giving's Regrant Type is the grant "awarded to a single grantmaking organisation
    # for onward distribution" (FRG010): MOPAC's to the SNB, not the SNB's to Oxygen
    assert parent.regrant_type == "FRG010"
    assert child.regrant_type is None


def test_committee_services_are_there(batches):
    committee = batches["demo-committee-services"]
    orgs = {o.ref: o for o in committee.organisations}
    by_name = {s.name: s for s in committee.services}
    rescue = by_name["Rescue and Response"]
    assert orgs[rescue.organisation_ref].name == "Safer London"
    assert rescue.coverage == [LONDON] and rescue.themes == ["gangs-exploitation"]
    victims = by_name["London Victim and Witness Service"]
    assert orgs[victims.organisation_ref].name == "Victim Support"
    assert victims.coverage == [LONDON] and victims.themes == ["victims-witnesses"]
    lvws_grants = [g for g in committee.grants if victims.ref in g.service_refs]
    assert [g.programme for g in lvws_grants] == ["victims"]
    outcome_services = {o.service_ref for o in committee.outcomes}
    assert outcome_services == {
        rescue.ref,
        by_name["Oxygen knife-crime programme for young people – Kingston"].ref,
    }
    for outcome in committee.outcomes:
        assert outcome.period_start == date(2023, 4, 1) and outcome.period_end == date(2024, 3, 31)
        assert outcome.value is not None
    # four interim figures measured at the period's end, and two illustrative follow-ups
    # measured after the funding (2023/24) ended: 6 months (Oxygen) and 12 (Rescue and Response)
    interim = [o for o in committee.outcomes if o.report_type == "interim"]
    assert len(interim) == 4 and all(o.measured_on is None for o in interim)
    assert sorted((o.service_ref, o.report_type, o.measured_on) for o in committee.outcomes
                  if o not in interim) == [
        ("oxygen-kingston-knife-crime", "final", date(2024, 9, 30)),
        (rescue.ref, "final", date(2025, 3, 31)),
    ]  # fmt: skip


def test_mopac_decisions_are_all_there_with_their_published_amounts(batches, decisions_csv):
    grants = batches["demo-mopac-decisions"].grants
    assert [g.ref for g in grants] == [row["record_id"] for row in decisions_csv]
    expected = sum(Decimal(row["amount_gbp"]) for row in decisions_csv if row["amount_gbp"].strip())
    assert sum(g.amount for g in grants if g.amount is not None) == expected
    by_ref = {g.ref: g for g in grants}
    for row in decisions_csv:
        grant = by_ref[row["record_id"]]
        assert grant.funder_ref == MOPAC
        assert (grant.amount is None) == (not row["amount_gbp"].strip())
        assert grant.source_url == row["source_url"]
        if row["borough_gss_codes"].strip():
            assert grant.areas == row["borough_gss_codes"].split(";")
        elif row["area_scope"].lower().startswith("london-wide (32 boroughs)"):
            # the 32 boroughs are the Metropolitan Police District: not the City of London
            assert grant.areas == ["E23000001"]
        elif row["area_scope"].lower().startswith("london-wide"):
            assert grant.areas == [LONDON]
        else:  # boroughs not named: no area (unplaced), not spread over all of London
            assert grant.areas == [] and "no area is shown" in (grant.description or "")
        if row["date_signed"]:
            assert grant.awarded == date.fromisoformat(row["date_signed"])
        if row["amount_note"]:
            assert row["amount_note"] in (grant.description or "")
    mopac = next(o for o in batches["demo-mopac-decisions"].organisations if o.ref == MOPAC)
    assert (mopac.name, mopac.type) == ("Mayor's Office for Policing and Crime", "police")


def test_a_decision_within_another_decisions_budget_is_paid_through_it(batches, shared_demo_app):
    """PCD 421 (DEC-025, direct funding 2019/20-2020/21) and PCD 310's Tranche 1 (DEC-018)
    spend money PCD 79 (DEC-026, £72m for 2017/18-2020/21) set aside: they are shown as
    paid through it, so a total counts the money once (until 6 December the LCPF's direct
    funding counted £26.2m twice, £98.2m "live" on one day in 2020)."""
    grants = {g.ref: g for g in batches["demo-mopac-decisions"].grants}
    budget = "MOPAC-DEC-026"
    assert {r for r, g in grants.items() if g.parent_ref} == {"MOPAC-DEC-025", "MOPAC-DEC-018"}
    assert all(grants[r].parent_ref == budget for r in ("MOPAC-DEC-025", "MOPAC-DEC-018"))
    assert grants[budget].parent_ref is None
    client = shared_demo_app.test_client()
    url = "/api/v1/funding/summary?by=programme&programme=lcpf-direct&live_on=2020-06-01"
    once, twice = client.get(url).json, client.get(url + "&include_regrants=true").json
    assert once["totals"]["amount"] == float(grants[budget].amount)
    assert twice["totals"]["amount"] == float(
        grants[budget].amount + grants["MOPAC-DEC-025"].amount
    )
    chain = client.get("/api/v1/grants/MOPAC-DEC-025").json["chain"]
    assert [link["ref"] for link in chain] == [budget]  # (the grants the money came through)


def test_lcpf_decisions_fund_a_placeholder_programme_in_each_borough(built, batches):
    snap = built[0]
    decisions = batches["demo-mopac-decisions"]
    orgs = {o.ref: o for o in decisions.organisations}
    lcpf = [s for s in decisions.services if s.ref.startswith("lcpf-")]
    met_boroughs = {
        c for c, a in snap.areas.items() if a.type == "borough" and a.parent_code != LONDON
    }
    assert {s.coverage[0] for s in lcpf} == met_boroughs and len(lcpf) == 32
    for service in lcpf:
        assert service.ref == f"lcpf-{service.coverage[0]}"
        assert service.name == f"LCPF programme – {snap.areas[service.coverage[0]].name}"
        assert orgs[service.organisation_ref].type == "council"
        assert service.themes and service.demo
    linked = [g for g in decisions.grants if g.service_refs]
    assert linked and all(set(g.service_refs) == {s.ref for s in lcpf} for g in linked)
    assert all(g.programme and g.programme.startswith("lcpf") for g in linked)


def test_every_invented_detail_is_marked_demo(batches, decisions_csv):
    decisions = {g.ref: g for g in batches["demo-mopac-decisions"].grants}
    for row in decisions_csv:
        grant = decisions[row["record_id"]]
        derived = grant.start is not None  # the source gives no start or end dates at all
        assert grant.demo == derived, grant.ref
        if derived:
            assert "Dates assumed" in (grant.description or "")
    committee = batches["demo-committee-services"]
    assert committee.contacts and all(c.demo for c in committee.contacts)
    assert all(".example." in (c.email or "") for c in committee.contacts)
    assert committee.outcomes and all(o.demo for o in committee.outcomes)
    assert all(g.demo for g in committee.grants)
    for service in committee.services:
        assert service.demo, service.ref
        assert "invented" in (service.description or "")
        assert all(loc.demo for loc in service.locations)
    giving = batches["demo-360giving"]
    assert len(giving.grants) == 841
    assert not any(g.demo for g in giving.grants)
    assert not any(o.demo for o in giving.organisations)


def test_verification_dates_show_one_stale_service(batches):
    services = (
        batches["demo-mopac-decisions"].services + batches["demo-committee-services"].services
    )
    ages = {s.ref: (TODAY - s.last_verified).days for s in services if s.last_verified}
    assert len(ages) == len(services)
    stale = [ref for ref, days in ages.items() if days > 2 * 365]
    assert len(stale) == 1
    assert all(0 <= days <= 365 for ref, days in ages.items() if ref not in stale)


def test_organisations_shared_between_sources_are_described_identically(batches):
    seen: dict[str, object] = {}
    for batch in batches.values():
        for org in batch.organisations:
            if org.ref in seen:
                assert seen[org.ref] == org, org.ref
            seen[org.ref] = org


def _options(source: str) -> ImportOptions:
    return ImportOptions(source=source, format="demo", location="demo", checksum="x", mode="full")


def test_demo_loads_and_reloads_unchanged(writable_app, shared_data_dir):
    state = writable_app.extensions["directory"]

    def load(today: date) -> list:  # type: ignore[type-arg]
        snap, ctx, built_batches, _ = _build(writable_app, shared_data_dir, today)
        contacts.append(len(built_batches[1][1].contacts))
        return [
            import_batch(state.db, snap, state.settings, batch, _options(name), ctx)
            for name, batch in built_batches
        ]

    contacts: list[int] = []
    first = load(TODAY)
    assert [r.status for r in first] == ["succeeded"] * 3, [r.problems[:3] for r in first]
    assert all(r.events > 0 for r in first)
    decisions, committee, giving = (r.counts for r in first)
    assert decisions["grants"]["created"] == 31
    assert decisions["services"]["created"] == 32
    assert committee["contacts"]["created"] == contacts[0]
    assert committee["outcomes"]["created"] == 6  # outcomes.csv's rows
    assert giving["grants"]["created"] == 841

    again = load(TODAY)
    assert [r.status for r in again] == ["unchanged"] * 3
    assert [r.events for r in again] == [0, 0, 0]
    assert committee["opportunities"]["created"] == 6
    # the recent dates are anchored on the month: later in the same month changes nothing
    # but the funding opportunities, anchored on the week (every status shown all week)
    monday = TODAY - timedelta(days=TODAY.weekday())
    week = [monday + timedelta(days=n) for n in range(7)]
    assert [r.status for r in load([d for d in week if d.month == TODAY.month][-1])] == [
        "unchanged"
    ] * 3
    later = load(TODAY.replace(day=1) + timedelta(days=27))
    assert [later[0].status, later[2].status] == ["unchanged"] * 2
    changed = {name: c for name, c in later[1].counts.items() if set(c) - {"unchanged"}
               and any(n for k, n in c.items() if k != "unchanged")}  # fmt: skip
    assert set(changed) <= {"opportunities"}
