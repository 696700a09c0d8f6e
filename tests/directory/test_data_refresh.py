"""`directory geodata refresh` end to end, against a local server that answers as every
publisher does (the fetchers' fixture server, tests/geodata/fetch): a dry run reports the
real differences and loads nothing, keeping what it fetched for the refresh to take; a real
run loads a release all-or-nothing, records it, finds nothing new the next time, and
`directory init` uses it; a bad download or a release that fails its checks never replaces
good data.

The publishers serve the London data the database holds, changed on purpose: a full
Code-Point Open release with two postcodes added, three gone, one moved ward and one moved
borough; the ONS 2022 ward names (two of which the 2025 names changed); the Met crime file
with one more month; 2023 population estimates; MOPAC's 360Giving file. Two tests load a
boundary review instead (``publishers.build_ward_split``): one ward abolished and split into
two new ones, new codes, polygons and postcodes.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import shapely
import shapely.geometry
from sqlalchemy import func, insert, select

from directory import create_app
from directory.cli import cli
from directory.ingest.refresh import RefreshError
from directory.store import loading
from directory.store.db import Database, sqlite_path
from directory.store.loading import releases_dir, resolve_data_dir
from directory.store.models import CrimeCount, DataRelease, Grant, GrantArea, Postcode
from directory.store.repositories.geography import GeographyRepository
from directory.usecases import data_refresh
from geodata.loaders import read_bundle
from tests.geodata.fetch import publishers
from tests.geodata.fetch.server import FixtureServer, Reply
from tests.servers import settings_env

CODEPOINT = "postcodes/london_postcodes_codepoint_open_2025_10.csv"
SQLITE_ONLY = pytest.mark.parametrize("writable_settings", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def london(
    shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> publishers.LondonRelease:
    return publishers.build_london_release(shared_data_dir, tmp_path_factory.mktemp("gla"))


@pytest.fixture(scope="module")
def publisher() -> Iterator[FixtureServer]:
    server = FixtureServer().start()
    yield server
    server.stop()


@pytest.fixture()
def published(publisher: FixtureServer, london: publishers.LondonRelease) -> FixtureServer:
    publisher.reset()
    publishers.publish_london_release(publisher, london)
    return publisher


def refresh(app, server: FixtureServer, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(
        cli, ["geodata", "refresh", "--base-url", server.url, "--timeout", "20", *args]
    )


def _counts(app) -> dict[str, int]:  # type: ignore[no-untyped-def]
    db = app.extensions["directory"].db
    with db.engine.connect() as connection:
        return {
            "postcodes": connection.execute(
                select(func.count()).select_from(Postcode)
            ).scalar_one(),
            "releases": connection.execute(
                select(func.count()).select_from(DataRelease)
            ).scalar_one(),
            "crime": connection.execute(select(func.count()).select_from(CrimeCount)).scalar_one(),
        }


def test_a_dry_run_reports_the_real_changes_and_loads_nothing(
    writable_app, published, london, shared_data_dir
):
    release = london.codepoint
    settings = writable_app.extensions["directory"].settings
    crime = shared_data_dir / "crime" / "mps_borough_level_crime_2024-07_to_2026-06.csv"
    loaded = writable_app.test_cli_runner().invoke(
        cli, ["import", str(crime), "--format", "mps-crime", "--source", "mps-borough-crime"]
    )
    assert loaded.exit_code == 0, loaded.output
    before = _counts(writable_app)
    result = refresh(writable_app, published, "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["dry_run"] is True and report["loaded"] is False and report["release"] is None
    assert {s["name"]: s["status"] for s in report["sources"]} == dict.fromkeys(
        ["boroughs", "wards", "codepoint", "nspl", "crime", "population", "mopac-grants"], "new"
    )
    codepoint = next(s for s in report["sources"] if s["name"] == "codepoint")
    assert codepoint["label"].endswith("2026-08") and codepoint["previous"] is None
    changes = report["changes"]
    postcodes = changes["postcodes"]
    assert postcodes["added"] == 2 and sorted(postcodes["examples"]["added"]) == sorted(
        release.added
    )
    assert postcodes["no_longer_live"] == 3 and sorted(
        postcodes["examples"]["no_longer_live"]
    ) == sorted(release.gone)
    assert (postcodes["moved_ward"], postcodes["examples"]["moved_ward"]) == (1, ["SW1A 1AA"])
    assert (postcodes["moved_borough"], postcodes["examples"]["moved_borough"]) == (1, ["BR1 1AA"])
    assert postcodes["live_after"] == postcodes["live_before"] - 1
    renamed = {a["code"]: (a["from"], a["to"]) for a in changes["areas"]["renamed"]}
    assert renamed == {  # the ONS 2022 names of the two Tower Hamlets wards renamed since
        "E05009317": ("Bethnal Green East", "Bethnal Green"),
        "E05009331": ("Bethnal Green West", "St Peter's"),
    }
    assert changes["areas"]["added"] == [] and changes["areas"]["removed"] == []
    assert changes["crime"]["months"]["new"] == ["2026-07"]
    crime_counts = changes["crime"]["counts"]["crime_counts"]
    assert crime_counts["created"] > 0 and crime_counts["updated"] == 0
    assert changes["crime"]["months"]["last"] == "2026-07"
    assert changes["population"]["counts"]["populations"]["created"] == 33
    assert [g["counts"]["grants"]["created"] for g in changes["grants"]] == [841, 37]
    # nothing written: no release, no state, the database as it was
    assert _counts(writable_app) == before
    root = releases_dir(settings)
    # (the lock file refreshes take turns by, empty, and what the dry run fetched, kept for
    # the refresh to take, are all there is)
    assert sorted(p.name for p in root.iterdir()) == [".fetched", ".refresh.lock"]
    kept = {
        p.name: json.loads((p / "fetched.json").read_text()) for p in (root / ".fetched").iterdir()
    }
    assert sorted(kept) == sorted(s["name"] for s in report["sources"])
    assert all(s["kept"] and s["kept_from"] is None for s in report["sources"])
    assert kept["codepoint"]["version"] == codepoint["version"]
    assert not (settings.instance_dir / "data" / "refresh.json").exists()


@SQLITE_ONLY  # the backend-specific work is covered by the dry run and the real run
def test_the_text_report_says_what_would_change(writable_app, published):
    result = refresh(
        writable_app, published, "--dry-run", "--source", "codepoint", "--source", "crime"
    )
    assert result.exit_code == 0, result.output
    assert "codepoint: new (OS Code-Point Open 2026-08)" in result.output
    assert "postcodes: 2 added, 3 no longer live, 1 moved ward, 1 moved borough" in result.output
    assert "months 2024-07 to 2026-07" in result.output
    kept = releases_dir(writable_app.extensions["directory"].settings) / ".fetched"
    assert result.output.rstrip().endswith(
        f"Dry run: nothing was loaded. What was fetched is kept for the refresh ({kept})."
    )


def test_a_refresh_loads_a_release_then_finds_nothing_new(
    writable_app, published, london, monkeypatch
):
    release = london.codepoint
    settings = writable_app.extensions["directory"].settings
    client = writable_app.test_client()
    assert client.get("/api/v1/postcodes/KT1 1EU").status_code == 200
    crime_before = _counts(writable_app)["crime"]
    reads: list[str] = []

    def counted(data_dir, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(Path(data_dir).name)
        return read_bundle(data_dir, *args, **kwargs)

    for module in (data_refresh, loading):
        monkeypatch.setattr(module, "read_bundle", counted)
    result = refresh(writable_app, published, "--source", "codepoint", "--source", "crime")
    assert result.exit_code == 0, result.output
    assert len(reads) == 1  # checked, then loaded without a second reading
    (stamp,) = [p.name for p in releases_dir(settings).iterdir() if not p.name.startswith(".")]
    home = releases_dir(settings) / stamp
    # (where DIRECTORY_INSTANCE_DIR puts it: it named instance/data/releases/ whatever it was)
    assert f"Loaded release {stamp} ({home})." in result.output
    assert (home / ".complete").is_file()
    manifest = json.loads((home / "manifest.json").read_text())
    assert manifest["about"]["kind"] == "refresh" and manifest["about"]["id"] == stamp
    files = {f["key"]: f for f in manifest["files"]}
    assert files["postcodes"]["path"] == "postcodes/codepoint_open_london.csv"
    assert files["postcodes"]["rows"] == 180_792 - 3 + 2
    assert files["crime"]["vintage"] == "2026-07"
    assert files["wards"]["path"] == "boundaries/london_wards_2022_27700.gpkg"  # kept from the base
    # the answers come from the new release
    assert client.get("/api/v1/postcodes/KT1 1EU").status_code == 404
    added = client.get(f"/api/v1/postcodes/{release.added[0]}").get_json()
    assert (
        added["borough"]["code"] == release.added_borough
        and added["data_release"]["data"]["id"] == stamp
    )
    moved = client.get("/api/v1/postcodes/BR1 1AA").get_json()
    assert (moved["borough"]["code"], moved["ward"]["code"]) == release.moved_borough[1:]
    assert (
        client.get("/api/v1/postcodes/SW1A 1AA").get_json()["ward"]["code"] == release.moved_ward[1]
    )
    assert _counts(writable_app)["crime"] > crime_before
    status = client.get("/api/v1/status").get_json()
    assert status["geography"]["data"] == {
        "kind": "refresh",
        "id": stamp,
        "description": manifest["about"]["description"],
    }
    assert any(
        s["source"] == "mps-borough-crime" and s["status"] == "succeeded" for s in status["sources"]
    )
    state = json.loads((settings.instance_dir / "data" / "refresh.json").read_text())
    assert (
        state["codepoint"]["version"]["version"] == "2026-08" and state["crime"]["release"] == stamp
    )

    again = refresh(writable_app, published, "--source", "codepoint", "--source", "crime", "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.output[again.output.index("{") :])
    assert [s["status"] for s in report["sources"]] == ["nothing new", "nothing new"]
    assert report["loaded"] is False and report["release"] is None
    assert len([p for p in releases_dir(settings).iterdir() if not p.name.startswith(".")]) == 1

    # with no --from and no DIRECTORY_GEODATA_DIR, `directory init` uses the refreshed
    # release (the same files: nothing to reload)
    plain = settings.with_overrides(geodata_dir=None)
    chosen = resolve_data_dir(plain)
    assert (chosen.origin, chosen.name) == ("refreshed release", stamp)
    app = create_app(plain)
    try:
        init = app.test_cli_runner().invoke(cli, ["init"])
    finally:
        app.extensions["directory"].db.dispose()
    assert init.exit_code == 0 and f"refreshed release {stamp}" in init.output
    assert "nothing changed" in init.output


#: two services with a site at each postcode the publishers' release moves
SITES_CSV = (
    "Service ref,Service name,Organisation name,Coverage,Site postcode\n"
    "PALACE,Palace youth club,Palace Trust,Westminster,SW1A 1AA\n"
    "BROMLEY,Bromley mentoring,Bromley Mentors,Bromley,BR1 1AA\n"
)


def _import_sites(app, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Import SITES_CSV; each service's site ref, by service ref."""
    path = tmp_path / "sites.csv"
    path.write_text(SITES_CSV, encoding="utf-8")
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "sites"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    return {
        ref: client.get(f"/api/v1/services/{ref}").get_json()["locations"][0]["ref"]
        for ref in ("PALACE", "BROMLEY")
    }


def _site(app, service: str, site: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = app.test_client().get(f"/api/v1/services/{service}/sites/{quote(site)}").get_json()
    return {
        "borough": (body["borough"] or {}).get("code"),
        "ward": (body["ward"] or {}).get("code"),
    }


def _site_in_patch(app, area: str, service: str) -> bool:  # type: ignore[no-untyped-def]
    body = app.test_client().get(f"/api/v1/patch?area={area}").get_json()
    return any(
        "site_in_area" in [r["relation"] for r in s["relations"]]
        for s in body["services"]["contents"]
        if s["ref"] == service
    )


def test_a_refresh_places_the_sites_of_moved_postcodes_in_their_new_areas(
    writable_app, published, london, tmp_path
):
    sites = _import_sites(writable_app, tmp_path)
    old = {ref: _site(writable_app, ref, site) for ref, site in sites.items()}
    client = writable_app.test_client()
    assert (
        old["PALACE"]["ward"] == client.get("/api/v1/postcodes/SW1A 1AA").get_json()["ward"]["code"]
    )
    new_ward = london.codepoint.moved_ward[1]
    new_borough, bromley_new_ward = london.codepoint.moved_borough[1:]
    assert old["PALACE"]["ward"] != new_ward and old["BROMLEY"]["borough"] != new_borough
    assert _site_in_patch(writable_app, old["PALACE"]["ward"], "PALACE")

    # the dry run says which sites would move, and moves none
    download = publishers.OS_FILE_REDIRECT.format(version="2026-08")
    dry = refresh(writable_app, published, "--source", "codepoint", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    dry_report = json.loads(dry.output[dry.output.index("{") :])
    assert dry_report["sources"][0]["kept_from"] is None  # downloaded
    assert len(published.requests_to(download)) == 1
    would = dry_report["changes"]["sites"]
    assert (would["moved_ward"], would["moved_borough"], would["moved"]) == (1, 1, 2)
    assert would["examples"]["moved_ward"] == [{
        "service": "PALACE", "site": sites["PALACE"],
        "from": old["PALACE"], "to": {"borough": old["PALACE"]["borough"], "ward": new_ward},
    }]  # fmt: skip
    assert would["examples"]["moved_borough"] == [{
        "service": "BROMLEY", "site": sites["BROMLEY"],
        "from": old["BROMLEY"], "to": {"borough": new_borough, "ward": bromley_new_ward},
    }]  # fmt: skip
    assert {ref: _site(writable_app, ref, site) for ref, site in sites.items()} == old
    assert _moves_recorded(writable_app, new_ward, "PALACE") == []
    assert would["change_events"] == 0
    if writable_app.extensions["directory"].settings.is_sqlite:  # (the words: either will do)
        text = refresh(writable_app, published, "--source", "codepoint", "--dry-run")
        assert "sites: 1 moved borough, 1 moved ward of 2" in text.output
        assert f"moved ward: service PALACE site {sites['PALACE']}: " in text.output
        assert "codepoint: new (OS Code-Point Open 2026-08), as fetched at " in text.output

    # the refresh takes the release the dry run fetched and cut (the same version, the
    # same bytes), rather than downloading it again
    loaded = refresh(writable_app, published, "--source", "codepoint", "--json")
    assert loaded.exit_code == 0, loaded.output
    loaded_report = json.loads(loaded.output[loaded.output.index("{") :])
    assert loaded_report["sources"][0]["status"] == "loaded"
    assert loaded_report["sources"][0]["kept_from"] is not None
    assert loaded_report["sources"][0]["files"] == dry_report["sources"][0]["files"]
    assert len(published.requests_to(download)) == 1
    assert not (
        releases_dir(writable_app.extensions["directory"].settings) / ".fetched" / "codepoint"
    ).exists()
    moved = loaded_report["changes"]["sites"]
    assert (moved["moved_ward"], moved["moved_borough"]) == (1, 1)
    assert _site(writable_app, "PALACE", sites["PALACE"]) == {
        "borough": old["PALACE"]["borough"],
        "ward": new_ward,
    }
    assert _site(writable_app, "BROMLEY", sites["BROMLEY"]) == {
        "borough": new_borough,
        "ward": bromley_new_ward,
    }
    assert _site_in_patch(writable_app, new_ward, "PALACE")
    assert not _site_in_patch(writable_app, old["PALACE"]["ward"], "PALACE")
    assert _site_in_patch(writable_app, bromley_new_ward, "BROMLEY")
    assert moved["change_events"] == 2


@SQLITE_ONLY  # (PostgreSQL's refresh: the moved-postcodes test, the same load)
def test_a_refresh_records_a_change_of_each_service_whose_sites_moved(
    writable_app, published, london, tmp_path
):
    """A SPOC following their area's feed learns that a service's site is now in their
    patch, or no longer is: the move is a change of the service, in the feeds of the areas
    it left and joined and in the service's history."""
    sites = _import_sites(writable_app, tmp_path)
    old = {ref: _site(writable_app, ref, site) for ref, site in sites.items()}
    new_ward = london.codepoint.moved_ward[1]
    new_borough, bromley_new_ward = london.codepoint.moved_borough[1:]

    loaded = refresh(writable_app, published, "--source", "codepoint")
    assert loaded.exit_code == 0, loaded.output
    assert "recorded as 2 change events of their services" in loaded.output
    client = writable_app.test_client()
    (palace,) = _moves_recorded(writable_app, new_ward, "PALACE")
    assert _moves_recorded(writable_app, old["PALACE"]["ward"], "PALACE") == [palace]
    names = {a["code"]: a["name"] for a in palace["areas"]}
    assert palace["summary"].startswith(
        f"Site {sites['PALACE']} placed in {names[new_ward]} (was {names[old['PALACE']['ward']]})"
        " by the geography release "
    )
    assert (palace["import_run"], palace["actor"]) == (None, None)
    # the shape of an edit of the sites: the service's sites before and after
    change = palace["changes"]["locations"]
    assert [(s["ref"], s["postcode"], s["ward_code"]) for s in change["old"]] == [
        (sites["PALACE"], "SW1A1AA", old["PALACE"]["ward"])
    ]
    assert [(s["ref"], s["borough_code"], s["ward_code"]) for s in change["new"]] == [
        (sites["PALACE"], old["PALACE"]["borough"], new_ward)
    ]
    assert {new_ward, old["PALACE"]["ward"]} <= {a["code"] for a in palace["areas"]}

    (bromley,) = _moves_recorded(writable_app, bromley_new_ward, "BROMLEY")
    assert _moves_recorded(writable_app, old["BROMLEY"]["ward"], "BROMLEY") == [bromley]
    assert {new_borough, bromley_new_ward, *old["BROMLEY"].values()} <= {
        a["code"] for a in bromley["areas"]
    }

    history = client.get("/api/v1/services/PALACE/history").get_json()["contents"]
    assert history[0]["summary"] == palace["summary"]
    assert history[0]["changes"] == palace["changes"]
    atom = client.get(f"/api/v1/changes.atom?area={new_ward}").data.decode()
    assert f"Site {sites['PALACE']} placed in " in atom


def _moves_recorded(app, area: str, service: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The changes of ``service`` in ``area``'s feed that no import or key made."""
    body = app.test_client().get(f"/api/v1/changes?area={area}&entity=service").get_json()
    return [
        e for e in body["contents"]
        if e["entity_ref"] == service and e["import_run"] is None and e["action"] == "updated"
    ]  # fmt: skip


@SQLITE_ONLY  # (what a dry run keeps is files: the database plays no part)
def test_what_a_dry_run_fetched_is_taken_only_for_the_same_release_intact(
    writable_app, published, london, monkeypatch
):
    """A dry run keeps what it fetched (``releases/.fetched/<source>/``, the London cut with
    its version) for the next refresh to take rather than download and cut the same release
    again: a dry run takes it too (and keeps it again, saying when it was fetched), and so
    does a refresh refused the write lock; ``--force``, a kept file changed since, a damaged
    ``fetched.json`` or another release published since, and it is downloaded again; a
    refresh that loads it, or finds it loaded, leaves none kept."""
    settings = writable_app.extensions["directory"].settings
    kept = releases_dir(settings) / ".fetched" / "crime"
    newer_url = f"{publishers.DATASTORE}/download/exy3m/pf7/newer.csv"

    def run(*more: str) -> tuple[dict[str, Any], int]:
        """The crime source's report, and how many requests its file's URL had meanwhile
        (the discovery reads its header; the fetch downloads it)."""
        before = asked()
        result = refresh(writable_app, published, "--json", "--source", "crime", *more)
        assert result.exit_code == 0, result.output
        (source,) = json.loads(result.output[result.output.index("{") :])["sources"]
        assert source["kept"] == ("--dry-run" in more)  # (a refresh that loads keeps none)
        return source, asked() - before

    def asked() -> int:
        urls = (publishers.CRIME_BOROUGH_URL, newer_url)
        return sum(len(published.requests_to(url)) for url in urls)

    def kept_about() -> dict[str, Any]:
        return json.loads((kept / "fetched.json").read_text())  # type: ignore[no-any-return]

    first, downloading = run("--dry-run")
    assert (first["status"], first["kept_from"]) == ("new", None)
    fetched_by = kept_about()["kept_from"]
    assert kept_about()["version"] == first["version"]
    again, requests = run("--dry-run")
    assert (again["kept_from"], again["files"]) == (fetched_by, first["files"])
    assert requests == downloading - 1  # not downloaded
    assert kept_about()["kept_from"] == fetched_by  # kept again, as fetched by the first
    forced, requests = run("--dry-run", "--force")
    assert (forced["kept_from"], requests) == (None, downloading)
    (path,) = [f["path"] for f in forced["files"]]
    with (kept / path).open("a") as changed:
        changed.write("\n")
    after_change, requests = run("--dry-run")
    assert (after_change["kept_from"], requests) == (None, downloading)
    (kept / "fetched.json").write_text("[" * 100_000)  # (past what Python's JSON reads)
    after_damage, requests = run("--dry-run")
    assert (after_damage["kept_from"], requests) == (None, downloading)
    publishers.publish_crime(published, london.crime, url=newer_url, coverage_to="2026-07-31")
    newer, requests = run("--dry-run")
    assert (newer["kept_from"], requests) == (None, downloading)
    assert newer["version"] != first["version"] and kept_about()["version"] == newer["version"]
    newer_by = kept_about()["kept_from"]

    @contextlib.contextmanager
    def refused(*_args: Any, **_kwargs: Any) -> Iterator[None]:
        raise RefreshError("An import holds the write lock (as for the test).")
        yield

    with monkeypatch.context() as patched:
        patched.setattr(data_refresh, "geography_turn", refused)
        before = asked()
        result = refresh(writable_app, published, "--source", "crime")
        assert result.exit_code == 1 and "holds the write lock" in result.output, result.output
        assert asked() - before == downloading - 1  # taken, not downloaded...
    assert kept_about()["kept_from"] == newer_by  # ... and kept again, not loaded
    aside = kept.with_name("aside")
    shutil.copytree(kept, aside)
    loaded, requests = run()
    assert (loaded["status"], loaded["kept_from"], requests) == (
        "loaded",
        newer_by,
        downloading - 1,
    )
    assert loaded["files"] == newer["files"]
    assert not kept.exists()
    aside.rename(kept)  # (as if a dry run had kept it meanwhile)
    assert run()[0]["status"] == "nothing new" and not kept.exists()


def test_a_kept_fetch_is_taken_only_by_what_it_is_of(tmp_path):
    """What a refresh kept (``_keep``) is taken (``_take_kept``) only for the same source,
    release (its version, tuples and all, as its JSON gives it back), provenance and
    publisher (a mirror's is not the publishers'), and only with its files' entries whole
    and inside its folder; else it is removed and the source downloaded."""
    from geodata.fetch import Found

    class Client:
        def __init__(self, base_url: str | None) -> None:
            self.base_url = base_url

    found = Found(
        source="crime", version={"months": ("2024-07", "2026-07"), "url": "u"}, label="Crime",
        vintage="2026-07", licence="OGL", attribution="© MPS", url="https://d/",
    )  # fmt: skip
    root, staging = tmp_path / ".fetched", tmp_path / "staging"
    staging.mkdir()

    def kept(**changed: Any) -> Path:
        """A refresh's fetched folder of ``found``, kept (``changed``: its file's entry)."""
        workdir = staging / "fetched" / "crime"
        (workdir / "crime").mkdir(parents=True)
        (workdir / "crime" / "c.csv").write_text("a,b\n")
        entry = found.file("crime", "crime/c.csv", rows=1, sha256="", url="https://d/c.csv")
        entry = replace(entry, sha256=data_refresh.sha256_file(workdir / "crime" / "c.csv"))
        result = data_refresh.SourceResult("crime", "new")
        fetched = {"crime": (found, [entry], workdir)}
        data_refresh._keep(
            root, fetched, {"crime": result}, "20261207T000000Z", Client(None), staging
        )
        assert result.kept and not workdir.exists()
        if changed:
            about = json.loads((root / "crime" / "fetched.json").read_text())
            about["files"][0].update(changed)
            (root / "crime" / "fetched.json").write_text(json.dumps(about))
        return root / "crime"

    def taken(of: Found = found, base_url: str | None = None) -> Any:
        target = staging / "taking"
        got = data_refresh._take_kept(root, "crime", of, Client(base_url), target)
        assert not (root / "crime").exists()  # taken or removed, never left
        if got is None:
            assert not target.exists()
        else:
            shutil.rmtree(target)
        return got

    kept()
    when, (file,) = taken()
    assert (when, file.path, file.rows, file.url) == (
        "20261207T000000Z",
        "crime/c.csv",
        1,
        "https://d/c.csv",
    )
    kept()
    assert taken(replace(found, version={**found.version, "url": "v"})) is None
    kept()
    assert taken(replace(found, attribution="© someone else")) is None
    kept()
    assert taken(base_url="http://mirror") is None
    assert kept(path="../../outside.csv") and taken() is None
    assert kept(rows="1") and taken() is None
    assert kept(extra="x") and taken() is None


def test_a_bad_download_fails_its_source_and_never_replaces_good_data(
    writable_app, published, london
):
    settings = writable_app.extensions["directory"].settings
    zipped = london.codepoint.zip
    target = publishers.OS_FILE_REDIRECT.format(version="2026-08")
    published.route(
        target, Reply(zipped, content_type="application/zip", truncate_to=len(zipped) // 2)
    )
    before = _counts(writable_app)
    result = refresh(
        writable_app, published, "--source", "codepoint", "--source", "population", "--json"
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.output[result.output.index("{") :])
    statuses = {s["name"]: s for s in report["sources"]}
    assert statuses["codepoint"]["status"] == "failed"
    assert "codepo_gb.zip" in statuses["codepoint"]["error"]
    assert statuses["population"]["status"] == "loaded"
    assert report["loaded"] is True
    after = _counts(writable_app)
    assert after["postcodes"] == before["postcodes"]  # the geography as it was
    assert writable_app.test_client().get("/api/v1/postcodes/KT1 1EU").status_code == 200
    home = releases_dir(settings) / report["release"]
    files = {f["key"]: f for f in json.loads((home / "manifest.json").read_text())["files"]}
    assert (
        files["postcodes"]["path"] == CODEPOINT
        and files["population"]["path"] == "reference/london_borough_population.csv"
    )
    state = json.loads((settings.instance_dir / "data" / "refresh.json").read_text())
    assert "codepoint" not in state and "population" in state


@SQLITE_ONLY  # the backend-specific work is covered by the dry run and the real run
def test_a_release_that_fails_the_london_checks_is_rejected(
    writable_app, published, shared_data_dir
):
    settings = writable_app.extensions["directory"].settings
    broken = publishers.build_codepoint_release(shared_data_dir, unknown_ward=True)
    publishers.publish_codepoint(published, broken.zip, version="2026-11")
    before = _counts(writable_app)
    result = refresh(writable_app, published, "--source", "codepoint")
    assert result.exit_code == 1, result.output
    assert "codepoint: rejected" in result.output and "ward outside" in result.output
    assert "Nothing was loaded" in result.output
    assert _counts(writable_app) == before
    root = releases_dir(settings)
    # (the lock file refreshes take turns by, empty, is all there is)
    assert not root.exists() or [p.name for p in root.iterdir()] == [".refresh.lock"]


@SQLITE_ONLY  # the backend-specific work is covered by the dry run and the real run
def test_unknown_sources_and_unreachable_publishers_are_clear(writable_app, published):
    result = refresh(writable_app, published, "--source", "postcodes.io")
    assert result.exit_code != 0 and "Unknown source 'postcodes.io'" in result.output
    closed = writable_app.test_cli_runner().invoke(
        cli,
        [
            "geodata",
            "refresh",
            "--base-url",
            "http://127.0.0.1:9",
            "--timeout",
            "2",
            "--source",
            "crime",
        ],
    )
    assert closed.exit_code == 1 and "crime: failed" in closed.output


@SQLITE_ONLY  # the backend-specific work is covered by the dry run and the real run
def test_a_source_its_publisher_does_not_publish_is_not_a_failure(writable_app, published, london):
    publishers.publish_registry(published, london.grants, london.workbook, with_mopac=False)
    result = refresh(writable_app, published, "--source", "mopac-grants", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    (source,) = report["sources"]
    assert source["status"] == "not published" and "Policing and Crime" in source["error"]
    assert report["ok"] is True and report["loaded"] is False


@SQLITE_ONLY  # the staging folders are files, whatever the database
def test_a_killed_refreshs_staging_folder_is_removed_by_the_next_and_a_running_ones_kept(
    writable_app, published
):
    """A refresh downloads into a staging folder it removes when it ends; one killed (its
    `finally` never ran) left it, a Code-Point or NSPL download of hundreds of MB, for
    ever. The next refresh removes the folders whose lock no running refresh holds, and
    leaves a running refresh's, and a recent folder with no lock, alone."""
    settings = writable_app.extensions["directory"].settings
    root = releases_dir(settings)
    root.mkdir(parents=True, exist_ok=True)

    def staging(name: str, *, lock: bool) -> Path:
        folder = root / name
        (folder / "codepoint").mkdir(parents=True)
        (folder / "codepoint" / "codepo_gb.zip").write_bytes(b"x" * 1000)
        if lock:
            (folder / ".running").touch()
        return folder

    killed = staging(".refresh-killed", lock=True)
    running = staging(".refresh-running", lock=True)
    old_unlocked = staging(".refresh-old", lock=False)
    os.utime(old_unlocked, (time.time() - 7200, time.time() - 7200))
    new_unlocked = staging(".refresh-new", lock=False)
    held = os.open(running / ".running", os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # as the running refresh holds it
        result = refresh(writable_app, published, "--dry-run", "--source", "crime")
        assert result.exit_code == 0, result.output
    finally:
        os.close(held)
    assert not killed.exists() and not old_unlocked.exists()
    assert (running / "codepoint" / "codepo_gb.zip").stat().st_size == 1000
    assert new_unlocked.exists()
    # the refresh's own folder is gone too, and the running one's is the next's to remove
    assert sorted(p.name for p in root.glob(".refresh-*")) == [".refresh-new", ".refresh-running"]
    result = refresh(writable_app, published, "--dry-run", "--source", "crime")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in root.glob(".refresh-*")) == [".refresh-new"]


@SQLITE_ONLY
def test_refreshes_take_turns_to_clear_and_make_their_staging_folders(writable_app, published):
    """Between making its staging folder and locking it a refresh holds the folders' guard
    lock, as one clearing abandoned folders does: a second refresh starting then found
    the first's folder unlocked and removed it from under it (a helper's review). Here the
    test holds the guard: the refresh waits for it, then clears the abandoned folder."""
    settings = writable_app.extensions["directory"].settings
    root = releases_dir(settings)
    (root / ".refresh-abandoned").mkdir(parents=True)
    (root / ".refresh-abandoned" / ".running").touch()
    guard = os.open(root / ".refresh.lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(guard, fcntl.LOCK_EX)
    results = []
    try:
        worker = threading.Thread(
            target=lambda: results.append(
                refresh(writable_app, published, "--dry-run", "--source", "crime")
            )
        )
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and (root / ".refresh-abandoned").exists()
        assert list(root.glob(".refresh-*")) == [root / ".refresh-abandoned"]
    finally:
        os.close(guard)
    worker.join(60)
    assert not worker.is_alive() and results[0].exit_code == 0, results[0].output
    assert list(root.glob(".refresh-*")) == []


def test_a_refresh_state_nested_past_what_python_reads_says_to_remove_it(tmp_path):
    """refresh.json holds the versions loaded; one damaged into JSON nested 200,000 deep was
    a RecursionError traceback, not the message that says what to do."""
    from directory.settings import Settings
    from directory.usecases.data_refresh import RefreshError, read_state, state_path

    settings = Settings(instance_dir=tmp_path)
    state_path(settings).parent.mkdir(parents=True, exist_ok=True)
    state_path(settings).write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(RefreshError, match="is unreadable .*remove it to start afresh"):
        read_state(settings)


#: the worktree's `directory` command (a served or installed one may be another checkout's)
CLI = [sys.executable, "-c", "from directory.cli import cli; cli()"]
ROOT = Path(__file__).resolve().parents[2]


def test_a_refresh_waiting_for_the_setup_turn_says_so_and_for_which_lock(
    writable_settings, published, tmp_path
):
    """While an init (or `geodata load`) holds the database's setup turn, a refresh with a
    release to load says on stderr that it waits and for which lock, as init does, loads
    nothing meanwhile, then loads when the turn is given back. It waited in silence."""
    path = sqlite_path(writable_settings.database_url)
    lock = "the PostgreSQL advisory lock" if path is None else f"the lock file {path}.init.lock"
    db = Database(writable_settings)
    said, out, refreshing = tmp_path / "stderr.txt", tmp_path / "stdout.txt", None
    try:
        with db.setup_turn(), said.open("w") as stderr, out.open("w") as stdout:
            refreshing = subprocess.Popen(
                [*CLI, "geodata", "refresh", "--base-url", published.url, "--timeout", "20",
                 "--source", "codepoint"],
                cwd=ROOT, stdout=stdout, stderr=stderr, text=True,
                env=settings_env(writable_settings),
            )  # fmt: skip
            deadline = time.monotonic() + 240
            while "Waiting" not in said.read_text() and refreshing.poll() is None:
                assert time.monotonic() < deadline, said.read_text()
                time.sleep(0.1)
            assert refreshing.poll() is None, said.read_text()
            assert (
                "Waiting for another `directory init` (or `migrate`, `geodata load`, "
                f"`geodata refresh`) holding {lock}"
            ) in said.read_text()
            with db.engine.connect() as connection:
                assert (
                    connection.execute(select(func.count()).select_from(DataRelease)).scalar_one()
                    == 1
                )
        refreshing.wait(300)
        assert refreshing.returncode == 0, said.read_text()
        assert "Loaded release " in out.read_text()
    finally:
        if refreshing is not None and refreshing.poll() is None:
            refreshing.kill()
            refreshing.wait()
        db.dispose()


#: a service funded by a grant, whose areas the test makes name a ward abolished in 2022
GRANT_CSV = (
    "Service ref,Service name,Organisation name,Coverage,Grant ref,Funder,Amount\n"
    "ABBEY,Abbey youth club,Abbey Trust,Barking and Dagenham,G-ABBEY,MOPAC,45000\n"
)
#: Abbey ward, Barking and Dagenham (2002–2022): no release the refresh loads has it
ABBEY = "E05000026"


@SQLITE_ONLY  # (PostgreSQL's refresh: the moved-postcodes test, the same load)
def test_a_refresh_names_the_grants_whose_areas_the_new_release_lacks(
    writable_app, published, tmp_path
):
    """A grant imported under older boundaries names a ward the release being loaded does
    not have: the dry run and the refresh both count and name it (a warning in words), and
    no successor is guessed (the grant keeps its areas). Before, only the services'
    coverage was reported, and such a grant silently left every area's funding."""
    path = tmp_path / "grant.csv"
    path.write_text(GRANT_CSV, encoding="utf-8")
    imported = writable_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "g"])
    assert imported.exit_code == 0, imported.output
    db = writable_app.extensions["directory"].db
    with db.session() as session:
        grant = session.execute(select(Grant.id).where(Grant.ref == "G-ABBEY")).scalar_one()
        session.execute(insert(GrantArea).values(grant_id=grant, area_code=ABBEY))
    expected = {
        "grants": 1, "areas": {ABBEY: 1}, "examples": [{"grant": "G-ABBEY", "areas": [ABBEY]}]
    }  # fmt: skip

    dry = refresh(writable_app, published, "--source", "codepoint", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert (
        json.loads(dry.output[dry.output.index("{") :])["changes"]["sites"]["grants_lost"]
        == expected
    )
    if writable_app.extensions["directory"].settings.is_sqlite:  # (the words: either will do)
        text = refresh(writable_app, published, "--source", "codepoint", "--dry-run")
        assert (
            "warning: 1 grants name areas this geography does not have (edit them): "
            f"G-ABBEY ({ABBEY})"
        ) in text.output

    loaded = refresh(writable_app, published, "--source", "codepoint", "--json")
    assert loaded.exit_code == 0, loaded.output
    report = json.loads(loaded.output[loaded.output.index("{") :])
    assert report["loaded"] is True and report["changes"]["sites"]["grants_lost"] == expected
    with db.session() as session:
        codes = session.execute(select(GrantArea.area_code).where(GrantArea.grant_id == grant))
        assert ABBEY in set(codes.scalars())


@SQLITE_ONLY  # (PostgreSQL's refresh: the moved-postcodes test, the same load)
def test_the_imports_after_a_geography_load_read_the_loaded_geography(
    writable_app, published, monkeypatch
):
    """A refresh loads the geography, then imports the figures and grants: those imports
    must place and check areas by the geography just loaded (a grant naming a ward new in
    the release would otherwise lose that area), not by the one read when the refresh
    began."""
    seen: list[tuple[bool, int]] = []
    real = data_refresh.run_import

    def recording(db, snap, settings, path, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((bool(kwargs.get("dry_run")), snap.geography_release))
        return real(db, snap, settings, path, **kwargs)

    monkeypatch.setattr(data_refresh, "run_import", recording)
    with writable_app.extensions["directory"].db.engine.connect() as connection:
        before = GeographyRepository(connection).latest_release("geography").id
    result = refresh(writable_app, published, "--source", "codepoint", "--source", "crime")
    assert result.exit_code == 0, result.output
    with writable_app.extensions["directory"].db.engine.connect() as connection:
        loaded = GeographyRepository(connection).latest_release("geography").id
    assert loaded != before
    assert [release for dry, release in seen if dry] == [before]  # the dry reading: as it was
    assert [release for dry, release in seen if not dry] == [loaded]


# -- a boundary review: a ward split in two under new codes ----------------------------------
@pytest.fixture(scope="module")
def split(shared_data_dir: Path) -> publishers.WardSplit:
    return publishers.build_ward_split(shared_data_dir)


@pytest.fixture()
def split_published(publisher: FixtureServer, split: publishers.WardSplit) -> FixtureServer:
    publisher.reset()
    publishers.publish_ward_split(publisher, split)
    return publisher


OGC = "/api/v1/ogc"


def _postcode_in(split: publishers.WardSplit, ward: str) -> str:
    return min(p for p, w in split.postcodes.items() if w == ward)


def test_a_refresh_that_splits_a_ward_serves_the_new_wards_and_places_their_sites(
    writable_app, split_published, split, tmp_path
):
    """A boundary review abolishes a ward and splits it into two new ones (new GSS codes,
    new polygons, its postcodes shared between them): after the refresh the new wards are
    areas of their borough and BCU with their boundaries, the postcodes and points in them
    resolve to them, the sites at those postcodes are placed in them and listed by their
    patches, and the services and grants naming the old ward are reported (no successor is
    guessed). Until now only releases moving postcodes between wards that stayed were
    tested."""
    west, east = split.new
    at = {ward: _postcode_in(split, ward) for ward in split.new}
    path = tmp_path / "split.csv"
    path.write_text(
        "Service ref,Service name,Organisation name,Coverage,Site postcode,Grant ref,Funder,"
        "Amount\n"
        f"WEST,West youth club,West Trust,Westminster,{at[west]},G-WEST,MOPAC,1000\n"
        f"EAST,East mentoring,East Trust,{split.old},{at[east]},,,\n",
        encoding="utf-8",
    )
    runner = writable_app.test_cli_runner()
    imported = runner.invoke(cli, ["import", str(path), "--source", "split"])
    assert imported.exit_code == 0, imported.output
    db = writable_app.extensions["directory"].db
    with db.session() as session:
        grant = session.execute(select(Grant.id).where(Grant.ref == "G-WEST")).scalar_one()
        session.execute(insert(GrantArea).values(grant_id=grant, area_code=split.old))
    client = writable_app.test_client()
    sites = {
        ref: client.get(f"/api/v1/services/{ref}").get_json()["locations"][0]["ref"]
        for ref in ("WEST", "EAST")
    }
    assert _site(writable_app, "WEST", sites["WEST"])["ward"] == split.old

    wards_and_postcodes = ("--source", "wards", "--source", "codepoint")
    loaded = refresh(writable_app, split_published, *wards_and_postcodes, "--json")
    assert loaded.exit_code == 0, loaded.output
    report = json.loads(loaded.output[loaded.output.index("{") :])
    assert report["loaded"] is True
    areas = report["changes"]["areas"]
    assert [(a["code"], a["name"]) for a in areas["added"]] == [
        (code, split.names[code]) for code in split.new
    ]
    assert [a["code"] for a in areas["removed"]] == [split.old]
    assert report["changes"]["postcodes"]["moved_ward"] == len(split.postcodes)
    moves = report["changes"]["sites"]
    assert (moves["moved_ward"], moves["moved_borough"]) == (2, 0)
    assert moves["coverage_lost"] == [{"service": "EAST", "areas": [split.old]}]
    assert moves["grants_lost"]["areas"] == {split.old: 1}

    borough = client.get(f"/api/v1/areas/{split.borough}").get_json()
    bcu = borough["bcu"]["code"]
    for parent in (split.borough, bcu):
        listed = client.get(f"/api/v1/areas?type=ward&parent={parent}&per_page=100").get_json()
        codes = {a["code"] for a in listed["contents"]}
        assert set(split.new) <= codes and split.old not in codes
    for ward in split.new:
        detail = client.get(f"/api/v1/areas/{ward}").get_json()
        assert (detail["name"], detail["parent"]["code"]) == (split.names[ward], split.borough)
        boundary = client.get(f"/api/v1/areas/{ward}/boundary")
        assert boundary.status_code == 200
        lon, lat = split.inside[ward]
        assert shapely.geometry.shape(boundary.get_json()["geometry"]).covers(
            shapely.Point(lon, lat)
        )
        located = client.get(f"/api/v1/locate?lat={lat}&lon={lon}").get_json()
        assert located["ward"]["code"] == ward
        postcode = client.get(f"/api/v1/postcodes/{at[ward]}").get_json()
        assert (postcode["ward"]["code"], postcode["borough"]["code"], postcode["bcu"]["code"]) == (
            ward,
            split.borough,
            bcu,
        )
    assert client.get(f"/api/v1/areas/{split.old}/boundary").status_code == 404
    assert _site(writable_app, "WEST", sites["WEST"]) == {"borough": split.borough, "ward": west}
    assert _site(writable_app, "EAST", sites["EAST"]) == {"borough": split.borough, "ward": east}
    assert _site_in_patch(writable_app, west, "WEST") and _site_in_patch(writable_app, east, "EAST")
    assert not _site_in_patch(writable_app, east, "WEST")
    found = client.get(f"/api/v1/services?area={west}").get_json()["contents"]
    assert [s["ref"] for s in found] == ["WEST"]
    neighbours = client.get(f"/api/v1/areas/{west}").get_json()["neighbours"]
    assert east in {n["code"] for n in neighbours}
    assert _moves_recorded(writable_app, west, "WEST") != []
    # every answer about a new ward is what it is for a ward of the same borough that stayed
    # (no code knew the new ward's before the load)
    listed = client.get(f"/api/v1/areas?type=ward&parent={split.borough}&per_page=100")
    stayed = min({a["code"] for a in listed.get_json()["contents"]} - set(split.new))
    for path in (
        "/api/v1/funding/summary?area={}", "/api/v1/funding/need?area={}",
        "/api/v1/grants?area={}", "/api/v1/patch?area={}&format=csv",
        "/api/v1/changes.atom?area={}", "/api/v1/partners?area={}",
        "/api/v1/opportunities?area={}", "/api/v1/outcomes/summary?area={}",
        "/api/v1/contacts?area={}", OGC + "/collections/wards/items/{}",
    ):  # fmt: skip
        status = client.get(path.format(west)).status_code
        assert status == client.get(path.format(stayed)).status_code and status < 500, path
    assert client.get(f"/api/v1/outcodes/{at[west].split()[0]}").status_code == 200


def test_a_write_in_a_worker_whose_geography_predates_a_refresh_is_placed_by_the_new_one(
    writable_app, writable_settings, split_published, split, tmp_path
):
    """A serving worker checks its geography every DIRECTORY_DATA_VERSION_TTL seconds (an
    hour, say). A write over the API made in one that had not seen a refresh yet was
    checked and placed by the geography before it: a site by its point in the abolished
    ward, coverage naming a new ward refused, where an import at the same moment used the
    new one. Each write reads the geography the database holds under the write lock (reads
    keep their snapshot until the TTL), and its worker answers from it from then on. One
    worker a kind of write, each with its snapshot taken before the refresh."""
    west, east = split.new
    path = tmp_path / "home.csv"
    path.write_text(
        "Service ref,Service name,Organisation name,Coverage,Site postcode\n"
        f"HOME,Home youth club,Home Trust,Westminster,{_postcode_in(split, west)}\n",
        encoding="utf-8",
    )
    imported = writable_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "h"])
    assert imported.exit_code == 0, imported.output
    made = writable_app.test_cli_runner().invoke(
        cli, ["keys", "create", "--role", "admin", "--name", "stale", "--json"]
    )
    assert made.exit_code == 0, made.output
    key = {"Authorization": f"Bearer {json.loads(made.output)['key']}"}
    home = writable_app.test_client().get("/api/v1/services/HOME").get_json()
    site = quote(home["locations"][0]["ref"])
    stale = writable_settings.with_overrides(data_version_ttl=3600.0)
    kinds = ("create", "add", "update", "upload", "opportunity")
    workers = {kind: create_app(stale) for kind in kinds}
    try:
        for worker in workers.values():  # each takes its snapshot
            assert worker.test_client().get(f"/api/v1/areas/{split.old}").status_code == 200

        # another process refreshes (this test's other app): the workers are not told
        loaded = refresh(
            writable_app, split_published, "--source", "wards", "--source", "codepoint"
        )
        assert loaded.exit_code == 0, loaded.output
        client = {kind: worker.test_client() for kind, worker in workers.items()}
        assert client["create"].get(f"/api/v1/areas/{west}").status_code == 404  # reads: TTL

        at_west, at_east = split.inside[west], split.inside[east]
        created = client["create"].post(
            "/api/v1/services", headers=key,
            json={"ref": "NEW", "name": "New club", "organisation": home["organisation"]["ref"],
                  "coverage": [east], "sites": [{"lat": at_west[1], "lon": at_west[0]}]},
        )  # fmt: skip
        assert created.status_code == 201, created.get_json()
        assert [a["code"] for a in created.get_json()["coverage"]] == [east]
        assert [loc["ward"]["code"] for loc in created.get_json()["locations"]] == [west]
        added = client["add"].post(
            "/api/v1/services/HOME/sites", headers=key,
            json={"ref": "added", "lat": at_west[1], "lon": at_west[0]},
        )  # fmt: skip
        assert added.status_code == 201, added.get_json()
        assert added.get_json()["ward"]["code"] == west
        # (read where the refresh is seen: the site's representation names its new ward)
        etag = writable_app.test_client().get(f"/api/v1/services/HOME/sites/{site}").headers["ETag"]
        moved = client["update"].patch(
            f"/api/v1/services/HOME/sites/{site}", headers={**key, "If-Match": etag},
            json={"lat": at_east[1], "lon": at_east[0]},
        )  # fmt: skip
        assert moved.status_code == 200, moved.get_json()
        assert moved.get_json()["ward"]["code"] == east
        upload = client["upload"].post(
            "/api/v1/imports", headers=key,
            data={"file": (io.BytesIO(
                b"Service ref,Service name,Organisation name,Coverage\n"
                + f"UPLOADED,Uploaded club,Home Trust,{west}\n".encode()
            ), "uploaded.csv")},
        )  # fmt: skip
        assert upload.status_code == 201, upload.get_json()
        closes = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()
        round_ = client["opportunity"].post(
            "/api/v1/opportunities", headers=key,
            json={"ref": "round-east", "title": "East round", "closes_at": closes,
                  "funder": {"name": "MOPAC"}, "areas": [east], "themes": ["vawg"]},
        )  # fmt: skip
        assert round_.status_code == 201, round_.get_json()
        assert [a["code"] for a in round_.get_json()["areas"]] == [east]
        # a worker that wrote answers from the geography its write read: the new wards
        assert client["create"].get(f"/api/v1/areas/{west}").status_code == 200
        assert _site_in_patch(workers["create"], west, "NEW")
        assert _site_in_patch(workers["add"], west, "HOME")
        assert _site_in_patch(workers["update"], east, "HOME")
        covered = client["upload"].get(f"/api/v1/services?area={west}").get_json()["contents"]
        assert {"NEW", "UPLOADED"} <= {s["ref"] for s in covered}
    finally:
        for worker in workers.values():
            worker.extensions["directory"].db.dispose()


def test_the_grants_a_refresh_imports_name_the_file_they_came_from(writable_app, published, london):
    """A refresh downloads MOPAC's 360Giving files and imports the local copies: each run
    records the URL its file was downloaded from (not the copy's name), and the 360Giving
    export gives those grants that URL as their dataSource. (The workbook repeats the JSON
    file's first 37 grants: they are the source's that imported them last.)"""
    result = refresh(writable_app, published, "--source", "mopac-grants", "--json")
    assert result.exit_code == 0, result.output
    client = writable_app.test_client()
    runs = client.get("/api/v1/imports?per_page=100").get_json()["contents"]
    locations = {r["location"] for r in runs if r["source"].startswith("mopac-360giving-")}
    urls = {publishers.MOPAC_JSON_URL, publishers.MOPAC_XLSX_URL}
    assert locations == urls
    package = client.get("/api/v1/grants.360giving.json").get_json()
    sources = {g["id"]: g.get("dataSource") for g in package["grants"]}
    in_workbook = {g["id"] for g in json.loads(london.grants)["grants"][:37]}
    only_json = [gid for gid in sources if gid not in in_workbook]
    assert len(only_json) > 700
    assert {sources[gid] for gid in only_json} == {publishers.MOPAC_JSON_URL}
    assert set(sources.values()) <= urls
