"""Community-safety programmes (issue 13) on SQLite and PostgreSQL: the classification of
directory/data/programmes.csv and the rule of directory/data/community_safety.toml are
loaded onto the programme table; the funding answers (/funding/summary, /funding/need,
/programmes, the patch's funding) count community-safety programmes only unless
``include_other_programmes=true``, and say so.

The demo figures are worked out here straight from the database (grants joined to their
programme's flag), never copied from the answers."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select, update

from directory.cli import cli
from directory.data.community_safety import listed, rule
from directory.ingest.template import HEADINGS
from directory.store.db import Database
from directory.store.models import Area, Grant, GrantArea, Organisation, Programme

LAMBETH = "E09000022"
MOPAC = "GB-GOR-PC390"
PROGRAMMES_CSV = Path(__file__).resolve().parents[2] / "directory" / "data" / "programmes.csv"


def run(app: Any, *args: str) -> Any:
    result = app.test_cli_runner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output[-2000:]
    return result


def get(app: Any, url: str) -> Any:
    response = app.test_client().get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def db_of(app: Any) -> Database:
    from directory.web.state import state

    with app.app_context():
        return state().db


# -- figures straight from the database ------------------------------------------------------------
def grant_rows(app: Any) -> list[dict[str, Any]]:
    """Every listed grant that is not a regrant, with its amount, its programme's flag (null
    without a programme), its funder's org-id and its beneficiary area codes."""
    db = db_of(app)
    parent = Grant.__table__.alias("parent")
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(Grant.id, Grant.amount_pence, Grant.programme_id,
                   Programme.community_safety, Organisation.ref.label("funder"))
            .outerjoin(Programme, Programme.id == Grant.programme_id)
            .join(Organisation, Organisation.id == Grant.funder_id)
            .where(Grant.withdrawn_at.is_(None))
            .where(~sa.exists().where(parent.c.ref == Grant.parent_ref,
                                       parent.c.ref != Grant.ref))
        ).all()  # fmt: skip
        areas: dict[int, set[str]] = defaultdict(set)
        for gid, code in connection.execute(select(GrantArea.grant_id, GrantArea.area_code)):
            areas[gid].add(code)
        geography = {
            r.code: (r.type, r.parent_code)
            for r in connection.execute(select(Area.code, Area.type, Area.parent_code))
        }
    return [
        {
            "id": r.id, "pence": r.amount_pence or 0, "programme": r.programme_id,
            "community_safety": bool(r.community_safety) if r.programme_id else r.funder == MOPAC,
            "areas": areas.get(r.id, set()), "geography": geography,
        }
        for r in rows
    ]  # fmt: skip


def reaches(row: dict[str, Any], area: str) -> bool:
    """The grant names the area, a ward in it, or an area above it (its BCU, London)."""
    geography = row["geography"]
    above = set()
    code = geography[area][1]
    while code in geography:
        above.add(code)
        code = geography[code][1]
    inside = {c for c, (_, parent) in geography.items() if parent == area}
    return bool(row["areas"] & ({area} | above | inside))


def borough_share(row: dict[str, Any], borough: str) -> float:
    """The share of a grant's money placed in a borough at borough level: its areas reduced
    to the widest (a ward inside a named borough, a borough inside a named BCU add nothing;
    London-wide money is placed in no borough), divided equally between them."""
    geography = row["geography"]
    codes = {c for c in row["areas"] if c in geography}
    if any(geography[c][0] == "region" for c in codes):
        return 0.0
    units = set()
    for code in codes:
        kind, parent = geography[code]
        if parent in codes or (parent in geography and geography[parent][1] in codes):
            continue  # inside another area it names
        units.add(parent if kind == "ward" else code)
    return 1 / len(units) if borough in units else 0.0


def pounds(pence: float) -> float:
    return round(pence / 100, 2)


# -- the demo directory --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(shared_demo_app):  # type: ignore[no-untyped-def]
    """The demo directory (`demo load`) on each backend: the session's, shared, as these
    tests only read it."""
    return shared_demo_app


def test_demo_figures_count_community_safety_programmes_unless_asked(demo):
    rows = grant_rows(demo)
    arts = [r for r in rows if r["programme"] == "arts-and-humanities"]
    assert arts and not any(r["community_safety"] for r in arts)
    in_lambeth = [r for r in rows if reaches(r, LAMBETH)]
    assert any(r["programme"] == "arts-and-humanities" for r in in_lambeth)
    safety = [r for r in in_lambeth if r["community_safety"]]
    other = [r for r in in_lambeth if not r["community_safety"]]

    url = f"/api/v1/funding/summary?by=programme&area={LAMBETH}"
    default = get(demo, url)
    ids = {g["programme"]["id"] for g in default["groups"] if g["programme"]}
    assert "arts-and-humanities" not in ids and "lcpf-direct" in ids
    assert default["totals"]["awards"] == len(safety)
    assert default["totals"]["amount"] == pytest.approx(pounds(sum(r["pence"] for r in safety)))
    assert default["programmes"]["counted"] == "community_safety"
    assert "community-safety" in default["programmes"]["rule"]
    assert default["programmes"]["other_programmes"] == {
        "awards": len(other), "amount": pytest.approx(pounds(sum(r["pence"] for r in other))),
    }  # fmt: skip
    assert default["filters"]["include_other_programmes"] is False

    everything = get(demo, url + "&include_other_programmes=true")
    groups = {g["programme"]["id"]: g for g in everything["groups"] if g["programme"]}
    assert groups["arts-and-humanities"]["amount"] == pytest.approx(
        pounds(sum(r["pence"] for r in arts if reaches(r, LAMBETH)))
    )
    assert everything["totals"]["awards"] == len(in_lambeth)
    assert everything["totals"]["amount"] == pytest.approx(
        pounds(sum(r["pence"] for r in in_lambeth))
    )
    assert everything["programmes"]["counted"] == "all"
    assert "other_programmes" not in everything["programmes"]

    # every borough, and London as a whole
    for query, counted in (("", [r for r in rows if r["community_safety"]]),
                           ("&include_other_programmes=true", rows)):  # fmt: skip
        summary = get(demo, "/api/v1/funding/summary?by=borough" + query)
        assert summary["totals"]["amount"] == pytest.approx(
            pounds(sum(r["pence"] for r in counted))
        )
        lambeth = next(b for b in summary["boroughs"] if b["area"]["code"] == LAMBETH)
        expected = pounds(sum(r["pence"] * borough_share(r, LAMBETH) for r in counted))
        assert lambeth["amount"] == pytest.approx(expected, abs=0.02)
        need = get(demo, "/api/v1/funding/need?level=borough" + query)
        row = next(a for a in need["areas"] if a["area"]["code"] == LAMBETH)
        assert row["amount"] == pytest.approx(expected, abs=0.02)
        assert need["programmes"] == summary["programmes"]
    default_need = get(demo, "/api/v1/funding/need?level=borough")
    all_need = get(demo, "/api/v1/funding/need?level=borough&include_other_programmes=true")
    lambeth_default = next(a for a in default_need["areas"] if a["area"]["code"] == LAMBETH)
    lambeth_all = next(a for a in all_need["areas"] if a["area"]["code"] == LAMBETH)
    assert lambeth_all["amount"] > lambeth_default["amount"]  # the arts grants and others


def test_demo_programmes_and_patch_show_the_classification(demo):
    db = db_of(demo)
    with db.engine.connect() as connection:
        flags = dict(connection.execute(select(Programme.id, Programme.community_safety)).all())
    listed_default = get(demo, "/api/v1/programmes?per_page=1000")
    assert {p["id"] for p in listed_default["contents"]} == {p for p, f in flags.items() if f}
    assert all(p["community_safety"] for p in listed_default["contents"])
    assert listed_default["programmes"]["counted"] == "community_safety"
    others = listed_default["programmes"]["other_programmes"]
    assert others["programmes"] == sum(1 for f in flags.values() if not f)
    everything = get(demo, "/api/v1/programmes?per_page=1000&include_other_programmes=true")
    assert {p["id"]: p["community_safety"] for p in everything["contents"]} == {
        p: bool(f) for p, f in flags.items()
    }
    detail = get(demo, "/api/v1/programmes/arts-and-humanities")
    assert detail["programme"]["community_safety"] is False
    assert detail["programmes"]["counted"] == "named"
    assert detail["allocations"]["totals"]["awards"] > 0  # asked for by id: counted
    assert get(demo, "/api/v1/programmes/vru")["programme"]["community_safety"] is True

    rows = grant_rows(demo)
    patch = get(demo, f"/api/v1/patch?area={LAMBETH}&per_page=1&live_on=2023-06-01")["funding"]
    wide = get(
        demo, f"/api/v1/patch?area={LAMBETH}&per_page=1&live_on=2023-06-01"
        "&include_other_programmes=true",
    )["funding"]  # fmt: skip
    assert patch["programmes"]["counted"] == "community_safety"
    assert all(p["community_safety"] for p in patch["by_programme"])
    assert wide["programmes"]["counted"] == "all"
    assert wide["awards"] == patch["awards"] + patch["programmes"]["other_programmes"]["awards"]
    assert wide["amount"] == pytest.approx(
        patch["amount"] + patch["programmes"]["other_programmes"]["amount"]
    )
    assert {p["community_safety"] for p in wide["by_programme"]} <= {True, False}
    assert rows  # the grants were read


# -- the classification is loaded --------------------------------------------------------------
def template_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADINGS)
    writer.writeheader()
    for n, row in enumerate(rows):
        writer.writerow({
            "Service ref": f"SVC-{n}", "Service name": f"Service {n}",
            "Organisation name": f"Organisation {n}", "Coverage": "Lambeth",
            "Themes": "Youth diversion", "Grant ref": f"G-{n}", "Amount": "1000",
            "Start date": "2024-04-01", "End date": "2025-03-31", "Financial year": "2024/25",
            **row,
        })  # fmt: skip
    return out.getvalue()


def test_every_programme_of_programmes_csv_is_loaded_with_its_classification(
    writable_app, tmp_path
):
    with PROGRAMMES_CSV.open(encoding="utf-8", newline="") as handle:
        in_file = {r["id"]: r["community_safety"] for r in csv.DictReader(handle)}
    assert set(in_file.values()) <= {"true", "false"}  # every row is classified, plainly
    path = tmp_path / "grants.csv"
    path.write_text(template_csv([{"Funder": "MOPAC", "Programme": "VRU"}]), encoding="utf-8")
    run(writable_app, "import", str(path))
    db = db_of(writable_app)

    def held() -> dict[str, bool]:
        with db.engine.connect() as connection:
            rows = connection.execute(select(Programme.id, Programme.community_safety)).all()
        return {r.id: bool(r.community_safety) for r in rows}

    assert {pid: held()[pid] for pid in in_file} == {p: v == "true" for p, v in in_file.items()}
    assert listed() == {p: v == "true" for p, v in in_file.items()}
    # a held classification that disagrees with the file is put right by the next import
    with db.engine.begin() as connection:
        connection.execute(
            update(Programme).where(Programme.id == "snb").values(community_safety=False)
        )
    assert held()["snb"] is False
    run(writable_app, "import", str(path))
    assert held()["snb"] is (in_file["snb"] == "true")


def test_an_imported_programme_is_classified_by_the_rule(writable_app, tmp_path):
    word = " ".join(rule().phrases[0])  # a word of community_safety.toml ("crime")
    grants = [
        {"Funder": "The Arts Trust", "Programme": "Arts and Humanities", "Amount": "5000"},
        {"Funder": "The Arts Trust", "Programme": f"Neighbourhood {word} grants", "Amount": "700"},
        {"Funder": "MOPAC", "Programme": "Borough community chest", "Amount": "300"},
        {"Funder": "MOPAC", "Programme": "", "Amount": "40"},
        {"Funder": "The Arts Trust", "Programme": "", "Amount": "2"},
    ]
    path = tmp_path / "grants.csv"
    path.write_text(template_csv(grants), encoding="utf-8")
    run(writable_app, "import", str(path))
    everything = get(writable_app, "/api/v1/programmes?per_page=1000&include_other_programmes=true")
    flags = {p["name"]: p["community_safety"] for p in everything["contents"]}
    assert flags["Arts and Humanities"] is False  # no community-safety word, not MOPAC's
    assert flags[f"Neighbourhood {word} grants"] is True  # by its name
    assert flags["Borough community chest"] is True  # by its funder (MOPAC)
    default = get(writable_app, "/api/v1/programmes?per_page=1000")
    assert "Arts and Humanities" not in {p["name"] for p in default["contents"]}

    summary = get(writable_app, f"/api/v1/funding/summary?by=programme&area={LAMBETH}")
    # 700 + 300 and MOPAC's grant with no programme (40); not the arts (5000) nor the trust's
    # grant with no programme (2)
    assert summary["totals"]["amount"] == 1040.0
    assert summary["programmes"]["other_programmes"] == {"awards": 2, "amount": 5002.0}
    wide = get(
        writable_app,
        f"/api/v1/funding/summary?by=programme&area={LAMBETH}&include_other_programmes=true",
    )
    assert wide["totals"]["amount"] == 6042.0


def test_the_migration_classifies_programmes_already_held(empty_settings):
    db = Database(empty_settings)
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            sa.text("INSERT INTO programme (id, name, funder_ref) VALUES "
                    "('vru', 'Violence Reduction Unit', 'GB-GOR-PC390'), "
                    "('arts-and-humanities', 'Arts and Humanities', 'GB-CHC-1156077'), "
                    "('xa9-criminal-justice', 'XA9 - Criminal Justice', 'GB-CHC-327114')")
        )  # fmt: skip
        command.upgrade(config, "head")
        flags = dict(connection.execute(select(Programme.id, Programme.community_safety)).all())
    db.dispose()
    assert {k: bool(v) for k, v in flags.items()} == {
        "vru": True, "arts-and-humanities": False, "xa9-criminal-justice": True,
    }  # fmt: skip
