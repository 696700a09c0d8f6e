"""Placing the sites again (directory/usecases/placing.py) without a new release: `directory
init` with the geography loaded already places every site by today's rules (by the
geography the database holds, reading none of the files), so a site an
older rule put in a borough (a point up to 400 m beyond London's edge was snapped into the
nearest before commit f002d1b) is left with none; it records a data release when a site
moved and nothing when none did; and it names the services whose coverage names an area the
geography does not have. (A refresh's moves: tests/directory/test_data_refresh.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
import shapely
from sqlalchemy import func, insert, select, update

from directory.cli import cli
from directory.errors import OutsideCoverageError
from directory.settings import Settings
from directory.store import loading
from directory.store.db import Database
from directory.store.models import (
    Area,
    ChangeEvent,
    DataRelease,
    Grant,
    GrantArea,
    Location,
    Service,
    ServiceArea,
)
from directory.usecases.geography import GeographySnapshot, resolve_point, resolve_points
from directory.usecases.placing import held_geography
from geodata.crs import to_wgs84
from geodata.loaders import GeographyBundle
from tests.directory.test_keys import make_key

ENFIELD = "E09000010"
CSV = (
    "Service ref,Service name,Organisation name,Coverage,Site postcode\n"
    "EDGE,Edge club,Edge Trust,Kingston,KT1 1EU\n"
)


@pytest.fixture(scope="module")
def london(
    sqlite_geography: Path, shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> GeographySnapshot:
    """The London geography as loaded (a copy of the session's SQLite file), to place
    points by."""
    tmp = tmp_path_factory.mktemp("placing")
    shutil.copy(sqlite_geography, tmp / "directory.sqlite3")
    db = Database(Settings(instance_dir=tmp, geodata_dir=shared_data_dir, testing=True))
    try:
        with db.engine.connect() as connection:
            return held_geography(connection).snapshot
    finally:
        db.dispose()


def _init_cli(app, *args: str) -> Any:  # type: ignore[no-untyped-def]
    """`directory init` given the London data finds it loaded already (by its checksum) and
    reads none of its files: it places the sites by the geography the database holds."""

    def unread(*args: Any, **kwargs: Any) -> GeographyBundle:
        raise AssertionError("the files were read")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loading, "read_bundle", unread)
        return app.test_cli_runner().invoke(cli, ["init", *args])


def _import(app, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "edge.csv"
    path.write_text(CSV, encoding="utf-8")
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "edge"])
    assert result.exit_code == 0, result.output
    return str(app.test_client().get("/api/v1/services/EDGE").get_json()["locations"][0]["ref"])


def _releases(db) -> int:  # type: ignore[no-untyped-def]
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(DataRelease)).scalar_one())


def _moves_recorded(db) -> list[Any]:  # type: ignore[no-untyped-def]
    """The change events no import or key made."""
    with db.engine.connect() as connection:
        return list(
            connection.execute(select(ChangeEvent).where(ChangeEvent.import_run_id.is_(None))).all()
        )


def _init(app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    result = _init_cli(app, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{") :])["load"]  # type: ignore[no-any-return]


def test_init_leaves_a_site_beyond_londons_edge_with_no_borough(writable_app, tmp_path):
    db = writable_app.extensions["directory"].db
    site = _import(writable_app, tmp_path)
    with db.session() as session:
        enfield = shapely.from_wkb(
            session.execute(select(Area.geometry).where(Area.code == ENFIELD)).scalar_one()
        )
        ward = session.execute(
            select(Area.code).where(Area.parent_code == ENFIELD, Area.type == "ward").limit(1)
        ).scalar_one()
        # 200 m north of London's northmost point (Enfield's): Hertfordshire, which the old
        # rule placed in Enfield
        x, y = max(shapely.get_coordinates(enfield), key=lambda p: p[1])
        x, y = float(x), float(y) + 200
        lon, lat = (float(v) for v in to_wgs84(x, y))
        service_id = select(Service.id).where(Service.ref == "EDGE").scalar_subquery()
        session.execute(
            update(Location)
            .where(Location.service_id == service_id)
            .values(postcode=None, lat=lat, lon=lon, easting=x, northing=y,
                    borough_code=ENFIELD, ward_code=ward)
        )  # fmt: skip
    releases = _releases(db)

    load = _init(writable_app)
    assert load["loaded"] is False
    sites = load["sites"]
    assert (sites["moved"], sites["moved_borough"], sites["outside_london"]) == (1, 1, 1)
    assert sites["examples"]["moved_borough"] == [{
        "service": "EDGE", "site": site, "from": {"borough": ENFIELD, "ward": ward},
        "to": {"borough": None, "ward": None},
    }]  # fmt: skip
    body = writable_app.test_client().get(f"/api/v1/services/EDGE/sites/{quote(site)}").get_json()
    assert body["borough"] is None and body["ward"] is None
    assert (round(body["lat"], 5), round(body["lon"], 5)) == (round(lat, 5), round(lon, 5))
    assert _releases(db) == releases + 1  # every worker's indexes are rebuilt
    (event,) = _moves_recorded(db)  # the service's change: its site left Enfield
    assert (event.entity, event.entity_ref, event.action) == ("service", "EDGE", "updated")
    assert event.summary.startswith(f"Site {site} placed outside London (was ")
    assert sites["change_events"] == 1
    history = writable_app.test_client().get("/api/v1/services/EDGE/history").get_json()
    assert {ENFIELD, ward} <= {a["code"] for a in history["contents"][0]["areas"]}
    assert [
        (s["borough_code"], s["ward_code"])
        for s in history["contents"][0]["changes"]["locations"]["new"]
    ] == [(None, None)]

    again = _init_cli(writable_app)
    assert again.exit_code == 0, again.output
    assert "nothing changed: the 1 sites are where it places them." in again.output
    assert _releases(db) == releases + 1
    assert _moves_recorded(db) == [event]  # a no-op init records none


def test_init_names_the_services_whose_coverage_the_geography_lacks(writable_app, tmp_path):
    db = writable_app.extensions["directory"].db
    _import(writable_app, tmp_path)
    with db.session() as session:
        service_id = session.execute(select(Service.id).where(Service.ref == "EDGE")).scalar_one()
        session.execute(insert(ServiceArea).values(service_id=service_id, area_code="E05999999"))
    releases = _releases(db)

    load = _init(writable_app)
    assert load["sites"]["moved"] == 0
    assert load["sites"]["coverage_lost"] == [{"service": "EDGE", "areas": ["E05999999"]}]
    text = _init_cli(writable_app)
    assert (
        "warning: 1 services' coverage names areas this geography does not have (edit them): "
        "EDGE (E05999999)" in text.output
    )
    assert _releases(db) == releases


def test_init_names_the_grants_whose_areas_the_geography_lacks(writable_app, tmp_path):
    """A grant naming a ward the geography does not have (Abbey, Barking and Dagenham,
    abolished in 2022) is counted and named, as a service's coverage is; nothing else
    changes."""
    db = writable_app.extensions["directory"].db
    path = tmp_path / "grant.csv"
    path.write_text(
        "Service ref,Service name,Organisation name,Coverage,Grant ref,Funder,Amount\n"
        "ABBEY,Abbey youth club,Abbey Trust,Barking and Dagenham,G-ABBEY,MOPAC,45000\n",
        encoding="utf-8",
    )
    result = writable_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "g"])
    assert result.exit_code == 0, result.output
    with db.session() as session:
        grant = session.execute(select(Grant.id).where(Grant.ref == "G-ABBEY")).scalar_one()
        session.execute(insert(GrantArea).values(grant_id=grant, area_code="E05000026"))
    releases = _releases(db)

    load = _init(writable_app)
    assert load["sites"]["grants_lost"] == {
        "grants": 1, "areas": {"E05000026": 1},
        "examples": [{"grant": "G-ABBEY", "areas": ["E05000026"]}],
    }  # fmt: skip
    text = _init_cli(writable_app)
    assert (
        "warning: 1 grants name areas this geography does not have (edit them): "
        "G-ABBEY (E05000026)" in text.output
    )
    assert _releases(db) == releases


def test_points_placed_together_are_placed_as_one_at_a_time(london, tmp_path):
    """resolve_points (every site placed by its point when the geography loads) answers as
    resolve_point (an import's site, /locate): points on and beside every borough's edge,
    where the two vectorised lookups disagree and each point is asked alone, and inside."""
    settings = Settings(instance_dir=tmp_path, testing=True)
    snap = london
    edges = [
        shapely.get_coordinates(snap.geometries[code].boundary)[::400]
        for code in snap.borough_index.codes
    ]
    points = np.vstack(edges)
    points = np.vstack([points, points + (15.0, -15.0), points + (-120.0, 90.0)])
    xs, ys = points[:, 0], points[:, 1]
    one_at_a_time = []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        try:
            found = resolve_point(snap, settings, x, y)
        except OutsideCoverageError:
            one_at_a_time.append(None)
        else:
            one_at_a_time.append((found.borough, found.ward))
    assert resolve_points(snap, settings, xs, ys) == one_at_a_time
    assert None in one_at_a_time and len(set(one_at_a_time)) > 100


def _stale_place(db, borough: str, ward: str) -> None:  # type: ignore[no-untyped-def]
    """Put EDGE's site in ``ward`` of ``borough`` as an older rule or geography would have."""
    with db.session() as session:
        service_id = select(Service.id).where(Service.ref == "EDGE").scalar_subquery()
        session.execute(
            update(Location)
            .where(Location.service_id == service_id)
            .values(borough_code=borough, ward_code=ward)
        )


def test_every_recorded_change_of_a_services_sites_has_one_shape(writable_app, tmp_path):
    """An import's, a write's over the API and a geography load's change of a service's
    sites name the same fields of each site, its ``borough_code`` and ``ward_code`` among
    them (only a load's did): a client comparing a service's history sees no field come and
    go. So an import that only places a site in another ward records it too (it recorded
    nothing)."""
    db = writable_app.extensions["directory"].db
    site = _import(writable_app, tmp_path)
    client = writable_app.test_client()
    placed = client.get(f"/api/v1/services/EDGE/sites/{quote(site)}").get_json()
    kingston, ward = placed["borough"]["code"], placed["ward"]["code"]
    with db.engine.connect() as connection:
        other_ward = connection.execute(
            select(Area.code).where(
                Area.parent_code == kingston, Area.type == "ward", Area.code != ward
            ).limit(1)
        ).scalar_one()  # fmt: skip

    # an import of the same row, the site held in another ward: the import places it back
    _stale_place(db, kingston, other_ward)
    _import(writable_app, tmp_path)
    (moved,) = client.get("/api/v1/services/EDGE/history").get_json()["contents"][:1]
    assert moved["action"] == "updated" and moved["import_run"] is not None
    (was,), (now,) = moved["changes"]["locations"]["old"], moved["changes"]["locations"]["new"]
    assert {k for k in was if was[k] != now[k]} == {"ward_code"}
    assert (was["ward_code"], now["ward_code"]) == (other_ward, ward)

    # a write over the API
    officer = {"Authorization": f"Bearer {make_key(writable_app, 'officer')['key']}"}
    written = client.patch(
        f"/api/v1/services/EDGE/sites/{quote(site)}", json={"name": "Edge hall"},
        headers={**officer, "If-Match": "*"},
    )  # fmt: skip
    assert written.status_code == 200, written.get_json()

    # a geography load placing the site again (by the geography the database holds: the
    # same files are loaded)
    _stale_place(db, kingston, other_ward)
    load = _init(writable_app)
    assert (load["loaded"], load["sites"]["moved_ward"], load["sites"]["change_events"]) == (
        False, 1, 1,
    )  # fmt: skip
    placed = client.get(f"/api/v1/services/EDGE/sites/{quote(site)}").get_json()
    assert (placed["borough"]["code"], placed["ward"]["code"]) == (kingston, ward)

    history = client.get("/api/v1/services/EDGE/history").get_json()["contents"]
    sites = [
        (event["actor"], event["import_run"], s)
        for event in history if "locations" in event["changes"]
        for side in ("old", "new") for s in event["changes"]["locations"][side]
    ]  # fmt: skip
    by = {(actor is not None, run is not None) for actor, run, _ in sites}
    assert by == {(False, True), (True, True), (False, False)}  # import, write, load
    fields = {"ref", "name", "address", "postcode", "lat", "lon", "demo", "borough_code",
              "ward_code"}  # fmt: skip
    assert all(set(s) == fields for _, _, s in sites), sites
