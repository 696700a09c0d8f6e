"""The directory's grants as a 360Giving package (``directory export FILE.json``), on the
demo directory, on both databases:

- the package validates against the 360Giving package schema shipped in
  ``standards/360giving`` (schema 1.4.3, draft 2020-12, formats checked) with zero errors;
- the grants it cannot carry validly (no award date, no amount awarded: both required) are
  left out and reported by id and reason, never faked; every other grant is in it;
- regrantType is on the grant to the intermediary, as the codelist says; a grant paid
  through another says so in the standard's terms, and totalling the grants whose
  parentGrant is not in the package gives the funding summary's total;
- round trip: the file imported into an empty database gives the same grants (ids,
  funder and recipient org-ids, title, description, programme, amount, currency, dates,
  duration, beneficiary areas, regrant type, parent grant, URL, demo); imported back into
  the directory it changes nothing, the services each grant funds included.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from dateutil.relativedelta import relativedelta
from flask import Flask
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from directory import create_app
from directory.cli import cli
from directory.demo import DEMO_SOURCES
from directory.ingest.codelists import CODELISTS, codes
from directory.ingest.export import DECISION_SOURCES
from directory.ingest.giving360 import GRANT_SCHEMA, NO_DESCRIPTION, published_id
from directory.store.models import ChangeEvent, Grant, Organisation
from directory.store.repositories.directory import DirectoryRepository
from tests.conftest import BACKENDS, demo_copy, geography_copy, shared_data_path
from tests.servers import file_server

#: the demo's 360Giving publisher prefix (``make run`` sets it; made up, and says so: the
#: README's "360Giving" says why)
DEMO_PREFIX = "360G-demo-lfsd"
#: the standard's schemas as the project ships them (directory/data/README.md says whence)
STANDARD = GRANT_SCHEMA.parent
MOPAC = "GB-GOR-PC390"
#: what a 360Giving grant carries of ours (services and our own bookkeeping stay behind)
CARRIED = (
    "funder", "recipient", "title", "description", "programme", "amount", "currency",
    "awarded", "start", "end", "duration_months", "areas", "regrant_type", "parent_ref",
    "source_url", "financial_year", "demo",
)  # fmt: skip


def package_validator() -> jsonschema.Draft202012Validator:
    package = json.loads((STANDARD / "360-giving-package-schema.json").read_text("utf-8"))
    grant = json.loads((STANDARD / "360-giving-schema.json").read_text("utf-8"))
    resource = DRAFT202012.create_resource(grant)
    # the package schema names the grant schema by its 1.4.2 address; the file is 1.4.3's
    registry = Registry().with_resources(
        [(package["properties"]["grants"]["items"]["$ref"], resource), (grant["$id"], resource)]
    )
    return jsonschema.Draft202012Validator(
        package, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture(scope="module")
def demo_app(shared_demo_app: Flask) -> Flask:
    """The demo directory on each backend (the session's, shared: these tests only read it;
    the round trip imports into a database of its own)."""
    return shared_demo_app


@pytest.fixture(scope="module")
def prefixed_app(demo_app: Flask) -> Iterator[Flask]:
    """The same demo directory (read only), served with the demo's 360Giving prefix set."""
    app = _with_prefix(demo_app, DEMO_PREFIX)
    yield app
    app.extensions["directory"].db.dispose()


def _grants(app: Flask) -> dict[str, dict[str, Any]]:
    with app.extensions["directory"].db.session() as session:
        states = DirectoryRepository(session).grant_states()
    return {ref: {k: g[k] for k in CARRIED} for ref, g in states.items() if not g["withdrawn_at"]}


@pytest.mark.parametrize("prefix", [None, DEMO_PREFIX], ids=["no-prefix", "prefix"])
def test_the_export_validates_reports_what_it_leaves_out_and_round_trips(
    demo_app: Flask, request: pytest.FixtureRequest, tmp_path: Path, prefix: str | None
) -> None:
    """Under our 360Giving prefix or none: the ids differ (``published``), the grants the
    file gives an empty directory with the same prefix do not."""
    path = tmp_path / "grants.json"
    if prefix is not None:
        demo_app = request.getfixturevalue("prefixed_app")
    result = demo_app.test_cli_runner().invoke(cli, ["export", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    package = json.loads(path.read_text("utf-8"))

    errors = [f"{e.json_path}: {e.message}" for e in package_validator().iter_errors(package)]
    assert errors == []

    with demo_app.extensions["directory"].db.engine.connect() as connection:
        held = connection.execute(
            select(Grant.ref, Grant.awarded, Grant.amount_pence).where(Grant.withdrawn_at.is_(None))
        ).all()
    unpublishable = {r.ref for r in held if r.awarded is None or r.amount_pence is None}
    assert unpublishable  # the demo's real MOPAC decisions include some without a date
    assert {item["id"] for item in report["excluded"]} == published(unpublishable, prefix)
    assert all(item["reasons"] for item in report["excluded"])
    # the file is the package the API gives: the grants left out are listed in it too
    assert package["notPublished"] == report["excluded"]
    served = demo_app.test_client().get("/api/v1/grants.360giving.json").json
    assert {i["id"] for i in served["notPublished"]} == published(unpublishable, prefix)
    assert sorted(g["id"] for g in served["grants"]) == sorted(g["id"] for g in package["grants"])
    exported = {r.ref for r in held} - unpublishable
    assert {g["id"] for g in package["grants"]} == published(exported, prefix)
    assert report["grants"] == len(exported)

    # into an empty database on the same backend, our prefix set as it was: the same grants
    url = demo_app.extensions["directory"].settings.database_url
    backend = "postgres" if url.startswith("postgresql") else "sqlite"
    settings = geography_copy(request, backend, tmp_path)
    empty = create_app(settings.with_overrides(giving360_prefix=prefix))
    imported = empty.test_cli_runner().invoke(
        cli, ["import", str(path), "--format", "360giving", "--source", "export"]
    )
    assert imported.exit_code == 0, imported.output[-3000:]
    original = {ref: g for ref, g in _grants(demo_app).items() if ref in exported}
    # 360Giving requires a description: a grant without one is written with its title as
    # the description, and the report says which; read back, a description that only
    # repeats the title is none
    noted = {item["id"] for item in report["notes"]}
    assert noted == published({ref for ref, g in original.items() if not g["description"]}, prefix)
    for ref, g in original.items():
        if g["description"] == g["title"]:
            original[ref] = {**g, "description": None}
    assert _grants(empty) == original
    empty.extensions["directory"].db.dispose()


def _with_prefix(app: Flask, prefix: str | None) -> Flask:
    """``app``, or an app over the same database with our 360Giving prefix set."""
    if prefix is None:
        return app
    settings = app.extensions["directory"].settings
    return create_app(settings.with_overrides(giving360_prefix=prefix))


def published(refs: set[str], prefix: str | None) -> set[str]:
    """The ids the export gives the grants held as ``refs``, as 360Giving wants them."""
    return {published_id(ref, prefix) for ref in refs}


def test_regrant_type_is_on_the_grant_made_for_onward_distribution(demo_app: Flask) -> None:
    """360Giving's Regrant Type codelist describes the grant to the intermediary, not the
    grants it pays on: FRG010 is "a grant awarded to a single grantmaking organisation for
    onward distribution as grants to end recipients". So a grant carrying regrantType is
    one whose recipient funds grants paid through it (the demo's MOPAC → Kingston SNB), and
    the onward grant (SNB → Oxygen) carries none. MOPAC's small grants fund for victims'
    services (PCD 203, to London Community Foundation, "VCSE (multiple, regranted)") carries
    it too, though none of the grants it paid on is in the directory."""
    grants = demo_app.test_client().get("/api/v1/grants.360giving.json").json["grants"]
    by_id = {g["id"]: g for g in grants}
    typed = {ref for ref, g in by_id.items() if "regrantType" in g}
    assert by_id["demo-kingston-snb-2023-24"]["regrantType"] == "FRG010"
    assert by_id["MOPAC-DEC-016"]["regrantType"] == "FRG010"
    assert "onward distribution" in by_id["MOPAC-DEC-016"]["description"]
    for ref in typed:
        intermediary = by_id[ref]["recipientOrganization"][0]["id"]
        onward = [g for g in grants if g.get("parentGrant") == ref]
        assert onward or ref == "MOPAC-DEC-016", ref
        assert {g["fundingOrganization"][0]["id"] for g in onward} <= {intermediary}
    oxygen = by_id["demo-kingston-snb-oxygen-2023-24"]
    assert "regrantType" not in oxygen
    assert oxygen["parentGrant"] == "demo-kingston-snb-2023-24"


def test_leaving_out_the_grants_paid_through_another_counts_the_money_once(
    demo_app: Flask,
) -> None:
    """A reader of the standard who totals amountAwarded over the grants whose parentGrant
    is not in the package (as the README's example does) gets the funding summary's total
    of the same grants, computed here from the grants table: the summary counts the grants
    the export leaves out (no award date) and leaves out every grant paid through one the
    directory holds. Summing every grant counts the money of the grants paid through
    another twice (PCD 421 and PCD 310 inside PCD 79's £72m; SNB → Oxygen inside MOPAC →
    SNB)."""
    client = demo_app.test_client()
    package = json.loads(client.get("/api/v1/grants.360giving.json").data, parse_float=Decimal)
    ids = {g["id"] for g in package["grants"]}
    inside = [g for g in package["grants"] if g.get("parentGrant") in ids]
    once = sum(Decimal(g["amountAwarded"]) for g in package["grants"] if g not in inside)
    twice = sum(Decimal(g["amountAwarded"]) for g in package["grants"])
    assert {"MOPAC-DEC-025", "MOPAC-DEC-018", "demo-kingston-snb-oxygen-2023-24"} <= {
        g["id"] for g in inside
    }
    assert twice - once == sum(Decimal(g["amountAwarded"]) for g in inside) > 29_000_000

    with demo_app.extensions["directory"].db.engine.connect() as connection:
        held = connection.execute(
            select(Grant.ref, Grant.parent_ref, Grant.amount_pence).where(
                Grant.withdrawn_at.is_(None)
            )
        ).all()
    refs = {r.ref for r in held}
    paid_through = {r.ref for r in held if r.parent_ref in refs}  # (the demo has no loops)
    unpublished = {item["id"] for item in package["notPublished"]}
    assert unpublished and unpublished.isdisjoint(ids)
    # what one side counts and the other does not: a grant left out of the package that is
    # not paid through another, and a published grant paid through an unpublished one
    only_summary = sum(
        r.amount_pence or 0 for r in held if r.ref in unpublished and r.ref not in paid_through
    )
    only_export = sum(
        r.amount_pence for r in held if r.ref in paid_through and r.ref in ids
        and r.parent_ref not in ids
    )  # fmt: skip
    summary = client.get(
        "/api/v1/funding/summary",
        query_string={"by": "programme", "include_other_programmes": "true"},
    ).json
    expected = once + Decimal(only_summary - only_export) / 100
    assert Decimal(str(summary["totals"]["amount"])) == expected
    # the package a MOPAC analyst reads (funder=), where PCD 421 and PCD 310 sit beside PCD 79
    mopac = json.loads(
        client.get("/api/v1/grants.360giving.json", query_string={"funder": MOPAC}).data,
        parse_float=Decimal,
    )
    mopac_ids = {g["id"] for g in mopac["grants"]}
    with demo_app.extensions["directory"].db.engine.connect() as connection:
        funded = set(
            connection.scalars(
                select(Grant.ref).join(Organisation, Organisation.id == Grant.funder_id)
                .where(Organisation.ref == MOPAC)
            )
        )  # fmt: skip
    assert mopac_ids == funded - unpublished
    assert (
        sum(
            Decimal(g["amountAwarded"])
            for g in mopac["grants"]
            if g.get("parentGrant") not in mopac_ids
        )
        == Decimal(sum(r.amount_pence for r in held if r.ref in mopac_ids - paid_through)) / 100
    )


def test_a_grant_paid_through_another_says_so_in_the_standards_own_terms(
    demo_app: Flask,
) -> None:
    """parentGrant is our extension, which GrantNav does not show: a grant paid through
    another also names it in relatedActivity, its description ends saying its money is
    counted there, and the package's description says how to total the money."""
    package = demo_app.test_client().get("/api/v1/grants.360giving.json").json
    inside = [g for g in package["grants"] if "parentGrant" in g]
    assert inside
    for g in inside:
        assert g["relatedActivity"] == [g["parentGrant"]]
        assert g["description"].endswith(
            f" Paid through {g['parentGrant']}: counted in that grant's amount."
        )
    assert not any("relatedActivity" in g for g in package["grants"] if g not in inside)
    assert "leave out the grants whose parentGrant" in package["description"]


def test_our_own_grants_are_published_under_our_360giving_prefix(
    demo_app: Flask, prefixed_app: Flask
) -> None:
    """360Giving requires every grant id to start ``360G-`` and the publisher's registered
    prefix, and GrantNav refuses others. With ``DIRECTORY_GIVING360_PREFIX`` set, a grant
    of our own (the real MOPAC decisions, the demo's made-up grants) is published as
    ``<prefix>-<ref>``, a grant read from a 360Giving file with the id its publisher gave
    it; the grants a grant is paid through, and those left out, are named by the same ids.
    Without a prefix, the package says its own grants' ids are not 360Giving's."""
    plain = demo_app.test_client().get("/api/v1/grants.360giving.json").json
    package = prefixed_app.test_client().get("/api/v1/grants.360giving.json").json
    errors = [f"{e.json_path}: {e.message}" for e in package_validator().iter_errors(package)]
    assert errors == []
    refs = [g["id"] for g in plain["grants"]]  # (without a prefix, the ids are our refs)
    ids = [g["id"] for g in package["grants"]]
    assert all(i.startswith("360G-") for i in ids)
    own = [ref for ref in refs if not ref.startswith("360G-")]
    assert "MOPAC-DEC-026" in own and "demo-kingston-snb-2023-24" in own
    assert ids == [f"{DEMO_PREFIX}-{ref}" if ref in own else ref for ref in refs]
    left_out = [i["id"] for i in package["notPublished"]]
    assert left_out == [f"{DEMO_PREFIX}-{i['id']}" for i in plain["notPublished"]]

    by_id = {g["id"]: g for g in package["grants"]}
    inside = by_id[f"{DEMO_PREFIX}-MOPAC-DEC-025"]
    assert inside["parentGrant"] == f"{DEMO_PREFIX}-MOPAC-DEC-026"
    assert inside["relatedActivity"] == [inside["parentGrant"]]
    assert inside["description"].endswith(
        f" Paid through {DEMO_PREFIX}-MOPAC-DEC-026: counted in that grant's amount."
    )
    named = {g["parentGrant"] for g in package["grants"] if "parentGrant" in g}
    assert named and named <= set(ids) | set(left_out)

    notice = "not 360Giving identifiers"
    assert notice in plain["description"] and f"{len(own):,} grants" in plain["description"]
    assert notice not in package["description"]


def test_organisations_without_a_registered_id_are_published_under_our_prefix(
    demo_app: Flask, prefixed_app: Flask
) -> None:
    """360Giving's guidance: an organisation with no registered org-id (the demo's London
    Community Foundation, councils, "32 London boroughs", Kingston SNB, held as our
    ``org:`` refs) is identified under the publisher's prefix. With the prefix set it is
    ``<prefix>-<ref without org:>``; every other organisation keeps its org-id (a
    registered one, another publisher's 360G- one): no registered id is made up. Without a
    prefix, the ids are our refs."""
    plain = demo_app.test_client().get("/api/v1/grants.360giving.json").json["grants"]
    package = prefixed_app.test_client().get("/api/v1/grants.360giving.json").json["grants"]
    roles = ("fundingOrganization", "recipientOrganization")
    pairs = {
        (before["id"], after["id"])
        for old, new in zip(plain, package, strict=True) for role in roles
        for before, after in zip(old[role], new[role], strict=True)
    }  # fmt: skip
    own = {ref for ref, _ in pairs if ref.startswith("org:")}
    assert {"org:london-community-foundation", "org:32-london-boroughs"} <= own
    assert {"org:kingston-safer-neighbourhood-board", "org:london-borough-of-lambeth"} <= own
    assert pairs == {
        (ref, f"{DEMO_PREFIX}-{ref.removeprefix('org:')}" if ref in own else ref)
        for ref, _ in pairs
    }
    assert any(ref.startswith("360G-") for ref, _ in pairs)  # another publisher's, kept


def test_the_cli_says_when_the_ids_are_not_360giving_identifiers(
    demo_app: Flask, prefixed_app: Flask, tmp_path: Path
) -> None:
    """``directory export grants.json`` with no prefix set says (on stderr, and in the
    report) that our own grants' ids are not 360Giving identifiers, and that our own
    organisations (held as ``org:`` refs, with no registered org-id) are not under the
    publisher's prefix either, each with how many, and which setting puts both under it;
    with the prefix set it says nothing of it."""
    path = tmp_path / "grants.json"
    said = demo_app.test_cli_runner().invoke(cli, ["export", str(path)])
    assert said.exit_code == 0, said.output
    (line,) = [x for x in said.stderr.splitlines() if "not 360Giving identifiers" in x]
    assert "DIRECTORY_GIVING360_PREFIX" in line
    package = json.loads(path.read_text("utf-8"))
    own_orgs = {
        org["id"]
        for grant in package["grants"]
        for role in ("fundingOrganization", "recipientOrganization")
        for org in grant[role]
        if org["id"].startswith("org:")
    }
    assert "org:32-london-boroughs" in own_orgs
    assert f"{len(own_orgs):,} organisations with no registered org-id" in line
    assert "(org:…), not under the publisher's prefix" in line
    report = json.loads(
        demo_app.test_cli_runner().invoke(cli, ["export", str(path), "--json"]).stdout
    )
    assert [n for n in report["notices"] if "not 360Giving identifiers" in n]
    quiet = prefixed_app.test_cli_runner().invoke(cli, ["export", str(path), "--json"])
    assert quiet.exit_code == 0 and json.loads(quiet.stdout)["notices"] == []
    assert "not 360Giving identifiers" not in quiet.stderr


def _listed(client: Any, filters: dict[str, str]) -> list[str]:
    refs, page = [], 1
    while True:
        body = client.get(
            "/api/v1/grants", query_string={**filters, "per_page": 100, "page": page}
        ).json
        refs += [g["ref"] for g in body["contents"]]
        if body["last_page"]:
            return refs
        page += 1


@pytest.mark.parametrize(
    "filters",
    [{}, {"programme": "lcpf-direct"}, {"area": "Lambeth"},
     {"funder": "GB-GOR-PC390", "status": "ended"}],
    ids=["all", "programme", "area", "funder-status"],
)  # fmt: skip
def test_the_api_serves_the_grants_of_the_list_as_a_valid_package(
    demo_app: Flask, filters: dict[str, str]
) -> None:
    """GET /grants.360giving.json under the filters of GET /grants: exactly the grants the
    list pages through, in its order, each either in the package or in notPublished; the
    package valid against the standard; /grants?format=360giving redirects there."""
    client = demo_app.test_client()
    answer = client.get("/api/v1/grants.360giving.json", query_string=filters)
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    package = answer.json
    errors = [f"{e.json_path}: {e.message}" for e in package_validator().iter_errors(package)]
    assert errors == []
    listed = _listed(client, filters)
    left_out = {item["id"] for item in package["notPublished"]}
    assert [g["id"] for g in package["grants"]] == [ref for ref in listed if ref not in left_out]
    assert left_out <= set(listed)
    moved = client.get("/api/v1/grants", query_string={**filters, "format": "360giving", "page": 2})
    assert moved.status_code == 307 and moved.data == b""  # no HTML page
    assert client.get(moved.headers["Location"]).json["grants"] == package["grants"]
    assert "page=" not in moved.headers["Location"]


def test_filters_that_keep_no_grant_to_publish_are_a_404_not_an_invalid_package(
    demo_app: Flask,
) -> None:
    """The standard's package holds one grant at least: an empty ``grants`` (it was
    answered with a 200) fails its schema, so filters keeping none are a 404 no-grants
    problem, which says so and points at the list."""
    client = demo_app.test_client()
    empty = {"version": "1.4", "grants": []}
    assert list(package_validator().iter_errors(empty))  # (why: the schema refuses it)
    answer = client.get("/api/v1/grants.360giving.json", query_string={"q": "zzqx"})
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    problem = answer.json
    assert problem["code"] == "no-grants" and problem["not_published"] == []
    assert "at least one grant" in problem["detail"] and "/api/v1/grants" in problem["detail"]
    assert client.get("/api/v1/grants?q=zzqx").json["total_items"] == 0


@pytest.fixture(params=BACKENDS)
def demo_writable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """A copy of the demo directory of this test's own, on each backend."""
    app = create_app(demo_copy(request, request.param, tmp_path))
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture()
def demo_prefixed(demo_writable: Flask) -> Iterator[Flask]:
    """``demo_writable`` served with the demo's 360Giving prefix set."""
    app = _with_prefix(demo_writable, DEMO_PREFIX)
    yield app
    app.extensions["directory"].db.dispose()


def _import(app: Flask, path: Path | str, *args: str) -> dict[str, Any]:
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--json", *args])
    assert result.exit_code == 0, result.output[-3000:]
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("prefix", [None, DEMO_PREFIX], ids=["no-prefix", "prefix"])
def test_reimporting_the_export_changes_nothing(
    demo_writable: Flask, request: pytest.FixtureRequest, tmp_path: Path, prefix: str | None
) -> None:
    """The directory's own 360Giving export imported back into it: no grant changes, not
    their services (which 360Giving cannot carry), demo flags or titles (a grant with none
    is written as 'Grant <id>', one with no description with a sentence saying so), nor,
    under our 360Giving prefix, their refs. (Imported as the source "grants", they are
    taken over from the demo's sources, which is a change of their source alone.)"""
    path = tmp_path / "grants.json"
    if prefix is not None:
        demo_writable = request.getfixturevalue("demo_prefixed")
    exported = demo_writable.test_cli_runner().invoke(cli, ["export", str(path)])
    assert exported.exit_code == 0, exported.output
    before = _grants(demo_writable), _links(demo_writable)
    report = _import(demo_writable, path, "--format", "360giving", "--take-over")
    assert report["counts"]["grants"]["updated"] == 0, report["counts"]
    assert report["counts"]["grants"]["created"] == 0
    with demo_writable.extensions["directory"].db.engine.connect() as connection:
        changes = connection.execute(
            select(ChangeEvent.changes).where(ChangeEvent.import_run_id == report["run_id"])
        ).scalars()
        assert {tuple(c) for c in changes} == {("source",)}
    assert (_grants(demo_writable), _links(demo_writable)) == before


def _links(app: Flask) -> dict[str, list[str]]:
    """The services each grant funds, by its ref."""
    with app.extensions["directory"].db.session() as session:
        states = DirectoryRepository(session).grant_states()
    return {ref: sorted(g["services"]) for ref, g in states.items()}


def test_a_360giving_grant_keeps_the_services_it_funds(
    demo_writable: Flask, tmp_path: Path
) -> None:
    """One grant of the directory's, retitled in a 360Giving file: the title changes, the
    services it funds (which 360Giving cannot name) stay linked, and the change event names
    the title alone."""
    client = demo_writable.test_client()
    package = client.get("/api/v1/grants.360giving.json").json
    links = _links(demo_writable)
    item = next(g for g in package["grants"] if links[g["id"]])
    funded = links[item["id"]]
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"grants": [{**item, "title": "Renamed"}]}), "utf-8")
    report = _import(demo_writable, path, "--source", "funder", "--take-over")
    assert report["counts"]["grants"]["updated"] == 1
    grant = client.get(f"/api/v1/grants/{quote(item['id'], safe='')}").json
    assert grant["title"] == "Renamed"
    assert sorted(s["ref"] for s in grant["services"]) == funded
    service = client.get(f"/api/v1/services/{quote(funded[0], safe='')}").json
    assert item["id"] in [g["ref"] for g in service["grants"]]
    changes = client.get("/api/v1/changes", query_string={"entity": "grant"}).json["contents"]
    [change] = [c["changes"] for c in changes if c["entity_ref"] == item["id"]]
    assert change["title"] == {"old": item["title"], "new": "Renamed"}
    assert set(change) == {"title", "source"} and change["source"]["new"] == "funder"


def test_data_source_of_a_grant_made_from_a_mopac_decision_is_the_decisions_page(
    demo_app: Flask,
) -> None:
    """360Giving's dataSource, the "URL of a web page, dataset or document from which this
    record was created": for the demo's MOPAC decisions, the decision's page; the demo's
    other grants (illustrations, and 360Giving grants read from a local file) have none we
    know, so none is written."""
    assert DEMO_SOURCES[0] in DECISION_SOURCES  # the demo's decisions source
    with (shared_data_path() / "grants" / "mopac_grant_decisions_curated.csv").open(
        encoding="utf-8"
    ) as f:
        pages = {r["record_id"]: r["source_url"].strip() for r in csv.DictReader(f)}
    package = demo_app.test_client().get("/api/v1/grants.360giving.json").json
    written = {g["id"]: g["dataSource"] for g in package["grants"] if "dataSource" in g}
    published_ids = {g["id"] for g in package["grants"]}
    expected = {ref: url for ref, url in pages.items() if url and ref in published_ids}
    # (the decisions with no award date or amount are not published: 360Giving needs both)
    assert {"MOPAC-DEC-026", "MOPAC-DEC-025", "MOPAC-DEC-016"} <= expected.keys()
    assert written == expected
    errors = [f"{e.json_path}: {e.message}" for e in package_validator().iter_errors(package)]
    assert errors == []


def _one_grant(gid: str) -> dict[str, Any]:
    return {
        "grants": [
            {
                "id": gid,
                "title": "Youth mentoring",
                "description": "Mentoring for young people leaving care",
                "currency": "GBP",
                "amountAwarded": 12000,
                "awardDate": "2024-05-01",
                "recipientOrganization": [{"id": "GB-CHC-1000001", "name": "Example Youth Trust"}],
                "fundingOrganization": [{"id": "GB-CHC-1000002", "name": "Example Foundation"}],
                "beneficiaryLocation": [
                    {"name": "Lambeth", "geoCode": "E09000022", "geoCodeType": "LONB"}
                ],
            }
        ]
    }


def test_data_source_of_a_360giving_grant_is_the_url_its_file_was_imported_from(
    writable_app: Flask, tmp_path: Path
) -> None:
    """A grant read from a 360Giving file fetched from a URL has that URL as its dataSource
    (without the query, which can carry a token, as the import run records it); one read
    from a local file has none: its path means nothing to a reader elsewhere."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "grants.json").write_text(json.dumps(_one_grant("360G-example-1")), "utf-8")
    local = tmp_path / "local.json"
    local.write_text(json.dumps(_one_grant("360G-example-2")), "utf-8")
    with file_server(served) as base:
        url = f"{base}/grants.json"
        _import(writable_app, url + "?token=secret", "--format", "360giving", "--source", "online")
    _import(writable_app, local, "--format", "360giving", "--source", "from-file")
    package = writable_app.test_client().get("/api/v1/grants.360giving.json").json
    grants = {g["id"]: g for g in package["grants"]}
    assert grants["360G-example-1"]["dataSource"] == url
    assert "dataSource" not in grants["360G-example-2"]
    errors = [f"{e.json_path}: {e.message}" for e in package_validator().iter_errors(package)]
    assert errors == []


def test_date_modified_is_when_the_grants_record_last_changed_in_utc(
    demo_writable: Flask, tmp_path: Path
) -> None:
    """Every grant carries ``dateModified``: its record's ``updated_at``, which the store
    keeps as naive UTC on both databases, written as an RFC 3339 date-time ending ``Z``. A
    grant an import changes moves to that moment (read against the clock in UTC, so a
    time kept in local time or written without its offset would show), the others stay."""
    client = demo_writable.test_client()
    package = client.get("/api/v1/grants.360giving.json").json
    with demo_writable.extensions["directory"].db.engine.connect() as connection:
        held = dict(connection.execute(select(Grant.ref, Grant.updated_at)).all())
    assert {g["id"]: g["dateModified"] for g in package["grants"]} == {
        g["id"]: held[g["id"]].isoformat(timespec="seconds") + "Z" for g in package["grants"]
    }
    assert all(re.fullmatch(RFC3339_UTC, g["dateModified"]) for g in package["grants"])

    item = next(g for g in package["grants"] if g["id"] == "MOPAC-DEC-026")
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"grants": [{**item, "title": "Renamed"}]}), "utf-8")
    before = datetime.now(UTC).replace(microsecond=0)
    report = _import(demo_writable, path, "--source", "funder", "--take-over")
    assert report["counts"]["grants"]["updated"] == 1
    after = datetime.now(UTC)
    again = {g["id"]: g for g in client.get("/api/v1/grants.360giving.json").json["grants"]}
    assert before <= datetime.fromisoformat(again["MOPAC-DEC-026"]["dateModified"]) <= after
    assert {i: g["dateModified"] for i, g in again.items() if i != "MOPAC-DEC-026"} == {
        g["id"]: g["dateModified"] for g in package["grants"] if g["id"] != "MOPAC-DEC-026"
    }


#: an RFC 3339 date-time in UTC, to the second
RFC3339_UTC = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"


def test_another_publishers_prefix_is_kept_and_so_is_a_grant_held_under_ours(
    demo_writable: Flask, demo_prefixed: Flask, tmp_path: Path
) -> None:
    """Only our own prefix is taken off an id: a package of another publisher's
    (``360G-other-MOPAC-DEC-026``) is its grants, not ours. A grant held whole under our
    prefix (a 360Giving file the publisher put out before this directory did, imported
    before the prefix was set) stays that grant when a file names it again."""
    client = demo_prefixed.test_client()
    package = client.get("/api/v1/grants.360giving.json").json
    item = next(g for g in package["grants"] if g["id"] == f"{DEMO_PREFIX}-MOPAC-DEC-026")
    theirs = {**item, "id": "360G-other-MOPAC-DEC-026", "title": "Theirs"}
    path = tmp_path / "theirs.json"
    path.write_text(json.dumps({"grants": [theirs]}), "utf-8")
    report = _import(demo_prefixed, path, "--source", "other")
    assert report["counts"]["grants"]["created"] == 1
    assert client.get("/api/v1/grants/360G-other-MOPAC-DEC-026").json["title"] == "Theirs"
    assert client.get("/api/v1/grants/MOPAC-DEC-026").json["title"] == item["title"]

    # held as the whole id: imported with no prefix set
    earlier = {**item, "id": f"{DEMO_PREFIX}-2016-04", "title": "Earlier"}
    path.write_text(json.dumps({"grants": [earlier]}), "utf-8")
    assert _import(demo_writable, path, "--source", "earlier")["counts"]["grants"]["created"] == 1
    path.write_text(json.dumps({"grants": [{**earlier, "title": "Renamed"}]}), "utf-8")
    report = _import(demo_prefixed, path, "--source", "earlier")
    assert report["counts"]["grants"] == {**report["counts"]["grants"], "updated": 1, "created": 0}
    assert client.get(f"/api/v1/grants/{DEMO_PREFIX}-2016-04").json["title"] == "Renamed"
    assert client.get("/api/v1/grants/2016-04").status_code == 404

    # so with organisations: one held whole under our prefix (imported before it was
    # set) stays that organisation, and another publisher's 360G- id is kept whole
    def recipient(org_id: str) -> None:
        given = {**earlier, "recipientOrganization": [{"id": org_id, "name": org_id}]}
        path.write_text(json.dumps({"grants": [given]}), "utf-8")

    recipient(f"{DEMO_PREFIX}-earlier-group")
    _import(demo_writable, path, "--source", "earlier")
    _import(demo_prefixed, path, "--source", "earlier")
    held = client.get(f"/api/v1/grants/{DEMO_PREFIX}-2016-04").json["recipient"]
    assert held["ref"] == f"{DEMO_PREFIX}-earlier-group"
    recipient("360G-other-earlier-group")
    _import(demo_prefixed, path, "--source", "earlier")
    held = client.get(f"/api/v1/grants/{DEMO_PREFIX}-2016-04").json["recipient"]
    assert held["ref"] == "360G-other-earlier-group"
    assert client.get("/api/v1/organisations/org:earlier-group").status_code == 404


# -- 360Giving's data-quality tool -------------------------------------------------------
# The checks 360Giving runs on a publisher's data (its Data Quality Tool and GrantNav's
# pipeline) live in lib360dataquality (github.com/ThreeSixtyGiving/dataquality,
# lib360dataquality/cove/threesixtygiving.py: TEST_CLASSES), which is not on PyPI and
# cannot be installed here. Each test below states one of its rules, named by its class,
# and asserts the demo's package (served under the demo's prefix) passes it. The rules the
# package fails for what its publishers published (a £0 grant, a website that is an email
# address) are in the README's "360Giving", with the tool's whole report.

#: lib360dataquality's company number: 8 letters or digits (check_company_number)
COMPANY_NUMBER = re.compile(r"^\w{8}$")


@pytest.fixture(scope="module")
def quality_package(prefixed_app: Flask) -> dict[str, Any]:
    return prefixed_app.test_client().get("/api/v1/grants.360giving.json").json  # type: ignore[no-any-return]


def _charity_number(number: str) -> bool:
    """lib360dataquality's check_charity_number: 6 or 7 digits."""
    return len(number) in (6, 7) and number.isdigit()


def test_grant_ids_are_360giving_identifiers_unique_and_on_one_line(
    quality_package: dict[str, Any],
) -> None:
    """The standard's grant identifier ("360G-", then the publisher's prefix), which
    GrantNav requires (the tool leaves it to GrantNav); GrantIdUnexpectedChars (no line
    break in an id: 360Giving's tools break on one); and get_grants_aggregates's
    duplicate_ids, which the tool reports: none."""
    ids = [g["id"] for g in quality_package["grants"]]
    assert all(i.startswith("360G-") for i in ids)
    assert not [i for i in ids if "\n" in i]
    assert len(set(ids)) == len(ids)


def test_organisation_ids_and_numbers_look_as_their_registers_make_them(
    quality_package: dict[str, Any],
) -> None:
    """OrganizationIdUnexpectedChars (no line break in an org-id); OrganizationIdLooksInvalid
    (a GB-CHC- id ends in a charity number, a GB-COH- one in a company number);
    RecipientOrgCharityNumber (a charityNumber, less two leading letters, is 6 or 7
    digits) and RecipientOrgCompanyNumber (a companyNumber is 8 letters or digits);
    FundingOrg360GPrefix (a funder's id starts 360G- only when it has no registered one,
    and then under the publisher's own prefix, as the check's own advice says: the demo's
    Kingston SNB)."""
    orgs = [
        org for g in quality_package["grants"]
        for org in g["fundingOrganization"] + g["recipientOrganization"]
    ]  # fmt: skip
    assert not [o["id"] for o in orgs if "\n" in o["id"]]
    charities = [o["id"] for o in orgs if o["id"].upper().startswith("GB-CHC-")]
    companies = [o["id"] for o in orgs if o["id"].upper().startswith("GB-COH-")]
    assert charities and companies
    assert [i for i in charities if not _charity_number(i[7:])] == []
    assert [i for i in companies if not COMPANY_NUMBER.match(i[7:])] == []
    numbers = [str(o["charityNumber"]) for o in orgs if "charityNumber" in o]
    assert numbers
    assert [n for n in numbers if not _charity_number(n[2:] if n[:2].isalpha() else n)] == []
    assert [o["companyNumber"] for o in orgs if "companyNumber" in o and
            not COMPANY_NUMBER.match(o["companyNumber"])] == []  # fmt: skip
    funders = [org for g in quality_package["grants"] for org in g["fundingOrganization"]]
    assert {o["id"] for o in funders if o["id"].lower().startswith("360g")} == {
        f"{DEMO_PREFIX}-kingston-safer-neighbourhood-board"
    }


def test_each_funder_has_one_name_and_each_name_one_funder(
    quality_package: dict[str, Any],
) -> None:
    """MultiFundingNamesForOrgId (one name for a funder's org-id across the package) and
    MultiFundingOrgIdsForName (one org-id for a funder's name)."""
    funders = {
        (org["id"], org["name"])
        for g in quality_package["grants"] for org in g["fundingOrganization"]
    }  # fmt: skip
    assert len({i for i, _ in funders}) == len(funders) == len({n for _, n in funders})


def test_dates_are_real_plausible_and_in_order(quality_package: dict[str, Any]) -> None:
    """ImpossibleDates (each date a real YYYY-MM-DD day); PlannedStartDateBeforeEndDate;
    PostDatedAwardDates (no award date after today); FarFuturePlannedDates (no planned
    date more than 12 years ahead); FarPastDates (none more than 25 years ago)."""
    today = date.today()
    for g in quality_package["grants"]:
        awarded = date.fromisoformat(g["awardDate"][:10])
        assert awarded <= today, g["id"]
        planned = g.get("plannedDates", [{}])[0]
        start, end = (
            date.fromisoformat(planned[key][:10]) if key in planned else None
            for key in ("startDate", "endDate")
        )
        if start and end:
            assert start <= end, g["id"]
        for day in (awarded, start, end):
            if day is not None:
                assert today - relativedelta(years=25) <= day, g["id"]
                assert day <= today + relativedelta(years=12), g["id"]


def test_no_description_merely_repeats_the_title(quality_package: dict[str, Any]) -> None:
    """TitleDescriptionSame: a description that is the title says nothing more. The
    standard requires a description; a grant held without one (four of Lloyds Bank
    Foundation's, published so) is written with a sentence saying there is none, which our
    importer reads back as none (until December 2026 the export wrote the title, and the
    tool counted those four)."""
    same = [g["id"] for g in quality_package["grants"] if g["description"] == g["title"]]
    assert same == []
    filled = [g for g in quality_package["grants"] if g["description"] == NO_DESCRIPTION]
    assert {g["id"] for g in filled} >= {"360G-LBFEW-113972", "360G-LBFEW-115443"}


def test_amounts_are_pounds_and_zero_only_where_published_so(
    demo_app: Flask, quality_package: dict[str, Any]
) -> None:
    """ZeroAmountTest (a £0 grant is worth a look): the package is in pounds (the tool
    totals each currency apart), a grant without an amount is left out (never written as
    £0), and each £0 grant is one its publisher published at £0 (the Wolfson Foundation's
    joint-grant rows), none of the directory's own."""
    grants = quality_package["grants"]
    assert {g["currency"] for g in grants} == {"GBP"}
    zero = {g["id"] for g in grants if g["amountAwarded"] == 0}
    with demo_app.extensions["directory"].db.engine.connect() as connection:
        held = set(connection.scalars(select(Grant.ref).where(Grant.amount_pence == 0)))
    assert zero == held
    assert all(ref.startswith("360G-wolfson-") for ref in zero)


def test_every_beneficiary_location_named_has_its_code(quality_package: dict[str, Any]) -> None:
    """BeneficiaryLocationNameButNoCode: a place named without a geoCode cannot be mapped.
    Every area is written with its GSS code (a Met BCU, which has none, with our id) and,
    where the standard's geoCodeType codelist has one, that."""
    places = [p for g in quality_package["grants"] for p in g.get("beneficiaryLocation", [])]
    assert places
    assert [p["name"] for p in places if not p.get("geoCode")] == []
    types = {p["geoCodeType"] for p in places if "geoCodeType" in p}
    assert types <= {"WD", "LONB", "PFA", "RGN/GOR"}  # (PFA: the Metropolitan Police District)


def _codelist_fields() -> dict[str, str]:
    """The grant's fields that take a code of one of the standard's codelists, by property
    name, each with its codelist: those its schema marks ``codelist`` (directly, through a
    ``$ref`` to a definition, or on an array's items), and ``geoCodeType``, whose codelist
    the standard publishes but its schema does not name."""
    schema = json.loads(GRANT_SCHEMA.read_text("utf-8"))
    fields = {"geoCodeType": "geoCodeType"}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        if not isinstance(node, dict):
            return
        for name, value in (node.get("properties") or {}).items():
            target = value
            if "$ref" in value:
                target = schema["$defs"][value["$ref"].rsplit("/", 1)[-1]]
            target = target.get("items", target)
            if "codelist" in target:
                fields[name] = target["codelist"].removesuffix(".csv")
        for value in node.values():
            walk(value)

    walk(schema)
    return fields


def _values_of(node: Any, names: set[str]) -> Iterator[tuple[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _values_of(item, names)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in names:
                yield key, value
            yield from _values_of(value, names)


@pytest.mark.parametrize("prefix", [None, DEMO_PREFIX], ids=["no-prefix", "prefix"])
def test_every_codelist_field_takes_a_code_of_its_codelist(
    demo_app: Flask, request: pytest.FixtureRequest, prefix: str | None
) -> None:
    """Each codelist-valued field our export writes (the demo's, with and without our
    prefix) takes a code of the standard's codelist, as shipped in
    ``standards/360giving/codelists``: ``currency``, ``countryCode``, ``geoCodeType``
    (WD, LONB, PFA, RGN/GOR) and ``regrantType`` (FRG010). The tool's codelist check
    reads the same files (scripts/check_360giving_quality.py)."""
    app = demo_app if prefix is None else request.getfixturevalue("prefixed_app")
    package = app.test_client().get("/api/v1/grants.360giving.json").json
    fields = _codelist_fields()
    assert {"currency", "countryCode", "regrantType", "locationScope"} <= set(fields)
    written: dict[str, set[Any]] = {}
    for name, value in _values_of(package["grants"], set(fields)):
        for code in value if isinstance(value, list) else [value]:
            written.setdefault(name, set()).add(code)
    assert set(written) == {"currency", "countryCode", "geoCodeType", "regrantType"}
    assert written["geoCodeType"] == {"WD", "LONB", "PFA", "RGN/GOR"}
    for name, values in written.items():
        assert (CODELISTS / f"{fields[name]}.csv").is_file(), fields[name]
        assert values <= set(codes(fields[name])), name
