"""After an import no request waits for the directory index to be rebuilt (issue 14).

Serving (``DIRECTORY_INDEX_REBUILD=background``, the default), a worker that has an index
keeps answering from it while a thread builds the next one, and says so: the answer's ETag
and Last-Modified are the previous data version's. At 100,000 services the build takes
about 20 s, and before this every worker's first request after an import waited for it.
The build is held on an event here, so the test does not depend on timing.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
import uuid
import weakref
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from directory import create_app
from directory.cli import cli
from directory.usecases.facts import FundingData
from directory.usecases.hsds import HsdsIds, IdTable, Reads, _by_id, location_uuid, service_uuid
from directory.usecases.patch import DirectoryCache, DirectoryIndex
from directory.web.state import hsds_reads, warm
from tests.conftest import BACKENDS, demo_copy

HEADER = "Service ref,Service name,Themes,Organisation name,Coverage,Last verified,Status\n"
DAY = date(2026, 11, 30)


class _Index:
    def __init__(self, name: str) -> None:
        self.name, self.version, self.day = name, 0, DAY


def test_the_previous_index_answers_while_the_next_is_built():
    cache = DirectoryCache(background=True)
    first = cache.get(1, DAY, lambda: _Index("first"))  # no index yet: built at once
    assert first.name == "first" and first.version == 1
    release = threading.Event()

    def slow() -> _Index:
        release.wait(10)
        return _Index("second")

    started = time.perf_counter()
    assert cache.get(2, DAY, slow) is first  # not waiting for the build
    assert cache.get(2, DAY, slow) is first  # one build at a time
    assert time.perf_counter() - started < 1
    release.set()
    cache.wait(10)
    second = cache.get(2, DAY, slow)
    assert second.name == "second" and second.version == 2


def _watched(index: _Index, deaths: list[str]) -> list[weakref.ref[Any]]:
    """Weak references recording the order in which ``index`` and one of its services die:
    let go, its services die first; freed at once, the index would go first."""
    index.services = [_Index(str(n)) for n in range(5000)]  # type: ignore[attr-defined]
    return [
        weakref.ref(index.services[0], lambda _: deaths.append("a service")),  # type: ignore[attr-defined]
        weakref.ref(index, lambda _: deaths.append("the index")),
    ]


def test_a_replaced_index_is_let_go_once_no_request_reads_it():
    """The previous index is emptied a piece at a time once replaced (freeing it at once at
    100,000 services held the worker's requests 0.2 s), once the requests still answering
    from it have ended (tried for a second); one held longer is left whole."""
    cache = DirectoryCache(background=True)
    first = cache.get(1, DAY, lambda: _Index("first"))
    first.services = {n: [n] for n in range(5000)}  # type: ignore[attr-defined]
    assert cache.get(2, DAY, lambda: _Index("second")) is first  # a request reads it
    cache.wait(10)  # for over the second the build tries to let the first go
    second = cache.get(2, DAY, lambda: _Index("x"))
    assert second.name == "second"
    assert first.name == "first" and len(first.services) == 5000  # still whole
    del first

    deaths: list[str] = []
    watched = _watched(second, deaths)
    request = [second]  # a request answering from the second, for another 0.2 s
    del second
    cache.get(3, DAY, lambda: _Index("third"))
    threading.Timer(0.2, request.clear).start()
    cache.wait(10)
    assert cache.get(3, DAY, lambda: _Index("x")).name == "third"
    assert deaths == ["a service", "the index"] and all(w() is None for w in watched)


def test_a_failed_background_build_is_logged_keeps_the_previous_index_and_is_tried_later(
    caplog,
):
    cache = DirectoryCache(background=True)
    first = cache.get(1, DAY, lambda: _Index("first"))

    def broken() -> _Index:
        raise RuntimeError("database went away")

    assert cache.get(2, DAY, broken) is first
    cache.wait(10)
    assert isinstance(cache.builds.last_error, RuntimeError)
    assert "building the directory index in the background failed" in caplog.text
    built = []
    assert cache.get(2, DAY, lambda: built.append(1) or _Index("x")) is first
    cache.wait(10)
    assert built == []  # not again at once: after 30 s
    cache.builds.retry_at = 0.0  # the delay over
    assert cache.get(2, DAY, lambda: _Index("second")) is first  # a new build starts
    cache.wait(10)
    assert cache.get(2, DAY, broken).name == "second" and cache.builds.last_error is None


def test_inline_builds_in_the_request():
    cache = DirectoryCache(background=False)
    cache.get(1, DAY, lambda: _Index("first"))
    assert cache.get(2, DAY, lambda: _Index("second")).name == "second"


@pytest.fixture()
def serving_app(writable_settings):
    app = create_app(writable_settings.with_overrides(index_rebuild="background"))
    yield app
    app_state = app.extensions["directory"]
    for cache in (app_state.directory, app_state.facts, app_state.hsds_ids, app_state.boxes):
        cache.wait(30)
    app_state.db.dispose()


def _import(app, tmp_path, name, ref):
    path = tmp_path / f"{ref}.csv"
    path.write_text(HEADER + f"{ref},{name},Youth diversion,Org {ref},Kingston,2026-01-01,active\n")
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", ref])
    assert result.exit_code == 0, result.output


def test_after_an_import_the_patch_answers_at_once_from_the_previous_index(
    serving_app, tmp_path, monkeypatch
):
    client = serving_app.test_client()
    _import(serving_app, tmp_path, "First Kingston service", "FIRST")
    url = "/api/v1/patch?area=E09000021"
    before = client.get(url)
    assert [s["ref"] for s in before.json["services"]["contents"]] == ["FIRST"]

    release = threading.Event()
    build = DirectoryIndex.build

    def held(*args, **kwargs):  # the background build waits until the test lets it go
        assert threading.current_thread().name == "directory-index"
        release.wait(30)
        return build(*args, **kwargs)

    monkeypatch.setattr(DirectoryIndex, "build", held)
    _import(serving_app, tmp_path, "Second Kingston service", "SECOND")
    started = time.perf_counter()
    during = client.get(url)
    assert time.perf_counter() - started < 5  # the request did not wait for the build
    assert during.status_code == 200
    assert [s["ref"] for s in during.json["services"]["contents"]] == ["FIRST"]
    # the answer is the previous data version's, and says so
    assert during.headers["ETag"] == before.headers["ETag"]
    assert during.headers["Last-Modified"] == before.headers["Last-Modified"]
    assert client.get(url, headers={"If-None-Match": before.headers["ETag"]}).status_code == 304

    release.set()
    serving_app.extensions["directory"].directory.wait(30)
    after = client.get(url)
    assert sorted(s["ref"] for s in after.json["services"]["contents"]) == ["FIRST", "SECOND"]
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_background_rebuild_freezes_the_next_index_without_a_full_collection(
    writable_settings, tmp_path
):
    """A full collection during a rebuild walked both indexes while every request of the
    worker waited (at 100,000 services ten of 0.06-0.33 s as the index grew, and 0.9 s when
    it was frozen): none starts now, in any thread, and the new index is frozen."""
    app = create_app(writable_settings.with_overrides(index_rebuild="background", freeze_heap=True))
    app_state = app.extensions["directory"]
    url = "/api/v1/patch?area=E09000021"
    full: list[str] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(threading.current_thread().name)

    gc.unfreeze()
    try:
        client = app.test_client()
        _import(app, tmp_path, "First Kingston service", "FIRST")
        assert client.get(url).status_code == 200  # the first index: built in the request
        _import(app, tmp_path, "Second Kingston service", "SECOND")
        # the import ran in this process and emptied its caches: the geography is read
        # again (in a served worker the import is another process's, and only the
        # version moves on)
        assert client.get("/api/v1/postcodes/KT1 1EU").status_code == 200
        gc.collect()  # none due before the build's thread has paused them
        gc.callbacks.append(record)
        try:
            client.get(url)  # the previous index answers; a thread builds the next
            app_state.directory.wait(30)
        finally:
            gc.callbacks.remove(record)
        assert full == []
        after = client.get(url)
        assert sorted(s["ref"] for s in after.json["services"]["contents"]) == ["FIRST", "SECOND"]
        index = app_state.directory._index
        assert index is not None and not any(o is index for o in gc.get_objects())  # frozen
    finally:
        gc.unfreeze()
        for cache in (app_state.directory, app_state.facts, app_state.hsds_ids, app_state.boxes):
            cache.wait(30)
        app_state.db.dispose()


def test_after_midnight_yesterdays_index_is_not_served_under_todays_etag(
    serving_app, tmp_path, monkeypatch
):
    from directory.web import state as web_state

    client = serving_app.test_client()
    _import(serving_app, tmp_path, "First Kingston service", "FIRST")
    day = [date(2026, 11, 30)]
    monkeypatch.setattr(web_state, "today", lambda: day[0])
    url = "/api/v1/patch?area=E09000021"
    assert client.get(url).status_code == 200  # the index for the 30th
    release = threading.Event()
    build = DirectoryIndex.build

    def held(*args, **kwargs):
        release.wait(30)
        return build(*args, **kwargs)

    monkeypatch.setattr(DirectoryIndex, "build", held)
    day[0] = date(2026, 12, 1)
    stale = client.get(url)  # the 30th's index, while the 1st's is built
    release.set()
    serving_app.extensions["directory"].directory.wait(30)
    fresh = client.get(url)
    assert stale.status_code == fresh.status_code == 200
    assert stale.headers["ETag"] != fresh.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": stale.headers["ETag"]}).status_code == 200


@pytest.fixture(params=BACKENDS)
def demo_settings(request, tmp_path):
    return demo_copy(request, request.param, tmp_path)


#: a few of the demo directory's postcodes, each in a ward of its own
POSTCODES = ("KT1 1EU", "SW1A 1AA", "SW2 1RW", "BR1 1AA", "SE1 7PB", "E1 6AN")


def _kept_sizes(app) -> dict[str, int]:
    index = app.extensions["directory"].directory._index
    names = ("area_lists", "area_counts", "funding_cache", "awards_cache", "opportunity_lists",
             "contacts_cache")  # fmt: skip
    sizes = {name: len(getattr(index, name)) for name in names}
    # the awards' cache also keeps each listed award's entry, once
    sizes["awards_cache"] = sum(1 for key in index.awards_cache if key[0] != "entry")
    # and the opportunities' lists their answers of the day (made by a request)
    sizes["opportunity_lists"] = sum(
        1 for key in index.opportunity_lists if key[0] not in ("changes", "answer")
    )
    return sizes


def test_serving_makes_each_wards_patch_parts_before_the_index_serves(demo_settings):
    """Serving, the first patch in a ward finds its parts made (at 100,000 services they
    cost it about 4 ms more than the next): the index's build made them for every ward,
    under the keys the requests use, and the answers are the same as without."""
    serving = create_app(demo_settings.with_overrides(index_rebuild="background"))
    inline = create_app(demo_settings)  # the tests' mode: nothing made ahead
    try:
        first = serving.test_client().get("/api/v1/patch?postcode=KT1+1EU")
        assert first.status_code == 200
        snap = serving.extensions["directory"].geography._snapshot
        wards = {
            a.code for a in snap.areas.values()
            if a.type == "ward" and a.parent_code in snap.areas
            and snap.areas[a.parent_code].type == "borough"
        }  # fmt: skip
        assert len(wards) > 600  # London's
        made = _kept_sizes(serving)
        assert made["area_counts"] == made["funding_cache"] == made["awards_cache"] == len(wards)
        assert made["opportunity_lists"] == made["contacts_cache"] == len(wards)
        for postcode in POSTCODES:
            url = "/api/v1/patch?postcode=" + postcode.replace(" ", "+")
            warmed, cold = serving.test_client().get(url), inline.test_client().get(url)
            assert warmed.status_code == cold.status_code == 200
            assert warmed.json == cold.json, postcode
        assert _kept_sizes(serving) == made  # every part the requests needed was there
        # each ward's awards hold each listed award's entry as the bytes every ward listing
        # it holds, not a copy of their own
        index = serving.extensions["directory"].directory._index
        kept = index.awards_cache
        entries = {id(kept[key]) for key in kept if key[0] == "entry"}
        listed = [part for key in kept if key[0] != "entry" for part in kept[key]._parts[1:-1:2]]
        assert {id(part) for part in listed} <= entries
        assert len(listed) > 3 * len(entries) > 0
        # without, each ward's parts are made by its first patch
        assert _kept_sizes(inline)["funding_cache"] == len(POSTCODES)
    finally:
        for app in (serving, inline):
            app.extensions["directory"].directory.wait(30)
            app.extensions["directory"].db.dispose()


GRANT_HEADER = (
    "Service ref,Service name,Themes,Organisation name,Coverage,Last verified,Status,"
    "Grant ref,Funder,Amount,Start date,End date\n"
)


def _import_grant(app, tmp_path, ref, amount):
    path = tmp_path / f"{ref}.csv"
    path.write_text(
        GRANT_HEADER + f"{ref},Service {ref},Youth diversion,Org {ref},Kingston,2026-01-01,"
        f"active,{ref}-G,Kingston Council,{amount},2026-04-01,2027-03-31\n"
    )
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", ref])
    assert result.exit_code == 0, result.output


def _held_on(monkeypatch, owner, name, thread):
    """Holds ``owner.name`` on the thread named ``thread`` until the event returned is set
    (a call on any other thread goes straight through)."""
    release, original = threading.Event(), getattr(owner, name)

    def held(*args, **kwargs):
        if threading.current_thread().name == thread:
            release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return release


def test_after_an_import_the_funding_answers_at_once_from_the_previous_facts(
    serving_app, tmp_path, monkeypatch
):
    """The funding facts (1.6-1.9 s to read at 100,000 services) are read by a thread after
    an import, the previous version's answering meanwhile, with an ETag of their own body
    (they may be joined with the new version's rows) and no Last-Modified."""
    client = serving_app.test_client()
    url = "/api/v1/funding/summary?by=borough&include_other_programmes=true"
    _import_grant(serving_app, tmp_path, "FIRST", 1000)
    before = client.get(url)
    assert before.json["totals"]["amount"] == 1000
    assert "Last-Modified" in before.headers

    release = _held_on(monkeypatch, FundingData, "read", "funding facts")
    _import_grant(serving_app, tmp_path, "SECOND", 2500)
    started = time.perf_counter()
    during = client.get(url)
    assert time.perf_counter() - started < 5  # the request did not wait for the read
    assert during.status_code == 200 and during.json == before.json
    assert "Last-Modified" not in during.headers
    assert during.headers["ETag"] != before.headers["ETag"]  # not the previous version's

    release.set()
    serving_app.extensions["directory"].facts.wait(30)
    after = client.get(url)
    assert after.json["totals"]["amount"] == 3500
    assert "Last-Modified" in after.headers
    assert after.headers["ETag"] not in (before.headers["ETag"], during.headers["ETag"])


def test_a_services_answer_is_the_same_from_a_worker_whose_facts_are_not_yet_current(
    serving_app, tmp_path, monkeypatch
):
    """A service's answer (and its ETag, which a change sends in If-Match) gives the day its
    funding ended from its grants as they are now, not from the worker's funding facts: a
    worker still reading the import's facts (1.6-1.9 s at 100,000 services) answered the
    previous end with the import's other fields, a body the other worker never sent, and a
    lone writer's GET then PATCH met 412 for seconds after an import (the concurrency probe
    of 5 December: 1-3 a run, 1.6-14 s after an import)."""
    client = serving_app.test_client()
    header = GRANT_HEADER.rstrip("\n") + ",Programme\n"

    def import_end(end: str) -> None:
        path = tmp_path / f"ends-{end}.csv"
        path.write_text(
            header + "ENDS,Service ENDS,Youth diversion,Org ENDS,Kingston,2026-01-01,active,"
            f"ENDS-G,MOPAC,1000,2025-04-01,{end},VRU\n"
        )
        result = serving_app.test_cli_runner().invoke(
            cli, ["import", str(path), "--source", "ENDS"]
        )
        assert result.exit_code == 0, result.output

    def answers() -> tuple[Any, Any, Any]:
        detail = client.get("/api/v1/services/ENDS")
        listed = client.get("/api/v1/services/ENDS/outcomes")
        assert detail.status_code == listed.status_code == 200
        return detail.json["funding_ended"], listed.json["funding_ended"], detail.headers["ETag"]

    import_end("2027-03-31")
    client.get("/api/v1/funding/summary?by=borough")  # the facts of this version, read
    assert answers()[:2] == ("2027-03-31", "2027-03-31")

    release = _held_on(monkeypatch, FundingData, "read", "funding facts")
    import_end("2026-09-30")
    assert client.get("/api/v1/funding/summary?by=borough").status_code == 200  # the previous facts
    during = answers()
    assert not release.is_set()  # the worker's facts are still the previous import's
    assert during[:2] == ("2026-09-30", "2026-09-30")
    release.set()
    serving_app.extensions["directory"].facts.wait(30)
    assert answers() == during  # the same body, and ETag, once the facts are current


def test_after_an_import_hsds_lookups_by_id_answer_from_the_previous_index(
    serving_app, tmp_path, monkeypatch
):
    """The HSDS id index (1.2 s at 100,000 services) is built by a thread after an import:
    a known id answers from the previous version's meanwhile, and an id it does not know
    from the records the import added (those whose id of ours is above the index's, read
    at once: before 3 December it waited for the new index, 2.3-3.3 s at 100,000); an id
    of no record waits for the new index, and is then a 404."""
    client = serving_app.test_client()
    _import(serving_app, tmp_path, "First Kingston service", "FIRST")
    first_id = service_uuid("FIRST")
    assert client.get(f"/api/v1/hsds/services/{first_id}").status_code == 200

    release = _held_on(monkeypatch, HsdsIds, "build", "HSDS id index")
    _import(serving_app, tmp_path, "Second Kingston service", "SECOND")
    started = time.perf_counter()
    known = client.get(f"/api/v1/hsds/services/{first_id}")
    new = client.get(f"/api/v1/hsds/services/{service_uuid('SECOND')}")
    assert time.perf_counter() - started < 5  # neither waited for the held build
    assert known.status_code == 200 and known.json["name"] == "First Kingston service"
    assert new.status_code == 200 and new.json["name"] == "Second Kingston service"
    org = new.json["organization"]["id"]  # the import's new organisation, by its id too
    assert client.get(f"/api/v1/hsds/organizations/{org}").status_code == 200
    assert not release.is_set()  # nothing above waited for the index
    # an id of no record waits for the index the thread is building (let go 0.5 s later)
    threading.Timer(0.5, release.set).start()
    started = time.perf_counter()
    missing = client.get("/api/v1/hsds/services/00000000-0000-4000-8000-000000000000")
    assert time.perf_counter() - started >= 0.4
    assert missing.status_code == 404


def test_after_an_import_rewrote_a_services_sites_a_lookup_of_a_site_answers_at_once(
    serving_app, tmp_path, monkeypatch
):
    """An import writes a changed service's sites afresh: while the next id index is built,
    the site and its service-at-location are found by their ids at once, as they are now."""
    client = serving_app.test_client()
    header = HEADER.rstrip("\n") + ",Site name,Site postcode\n"

    def import_site(name: str) -> None:
        path = tmp_path / f"{name}.csv"
        path.write_text(
            header + f"SITES,{name},Youth diversion,Org sites,Kingston,2026-01-01,active,"
            "Kingston hub,KT1 1EU\n"
        )
        result = serving_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "s"])
        assert result.exit_code == 0, result.output

    import_site("Sites service")
    service = client.get(f"/api/v1/hsds/services/{service_uuid('SITES')}").json
    [place] = service["service_at_locations"]
    assert client.get(f"/api/v1/hsds/locations/{place['location_id']}").status_code == 200

    release = _held_on(monkeypatch, HsdsIds, "build", "HSDS id index")
    import_site("Sites service renamed")  # changed: its sites are written afresh
    started = time.perf_counter()
    location = client.get(f"/api/v1/hsds/locations/{place['location_id']}")
    assert location.status_code == 200 and location.json["name"] == "Kingston hub"
    both = client.get(f"/api/v1/hsds/service_at_locations/{place['id']}")
    assert both.status_code == 200 and both.json["service"]["name"] == "Sites service renamed"
    assert time.perf_counter() - started < 5 and not release.is_set()  # no wait
    release.set()


def test_a_lookup_by_id_checks_the_row_an_earlier_index_names(demo_settings):
    """An earlier version's index may name a row that is gone, or (SQLite gives the highest
    free id again) another record's: the lookup checks the row, finds a record added since
    among the rows above the index's highest id, and else waits for the next index."""
    app = create_app(demo_settings)
    try:
        with app.app_context():
            reads = hsds_reads()[0]
            real = reads.index(True)
            rows = sorted(reads.repo.identifier_rows()["location"], key=lambda r: r.id)
            ids = [(location_uuid(r.service_ref, r.ref), r.id) for r in rows]
            (a_id, a), (b_id, b), (c_id, c) = ids[0], ids[1], ids[-1]
            waits: list[int] = []

            def earlier(pairs: list[tuple[str, int]]) -> Reads:
                stale = dataclasses.replace(
                    real, version=real.version - 1, locations=IdTable(pairs)
                )

                def index(latest: bool) -> HsdsIds:
                    if latest:
                        waits.append(1)
                        return real
                    return stale

                return dataclasses.replace(reads, index=index)

            # the row is still that site's: answered, without waiting
            assert _by_id(earlier(ids[:-1]), "locations", a_id) == a and waits == []
            # added since (above the earlier index's highest id): found at once
            assert _by_id(earlier(ids[:-1]), "locations", c_id) == c and waits == []
            # named another site's row, or a row that is gone: the next index answers
            assert _by_id(earlier([(a_id, b), *ids[2:-1]]), "locations", a_id) == a
            assert waits == [1]
            assert _by_id(earlier([(b_id, 10**9), *ids[2:-1]]), "locations", b_id) == b
            assert waits == [1, 1]
            assert _by_id(earlier(ids[:-1]), "locations", str(uuid.uuid4())) is None
            assert waits == [1, 1, 1]
    finally:
        app.extensions["directory"].db.dispose()


def test_the_ids_of_records_added_since_an_index_are_those_the_index_would_have(demo_settings):
    """``HsdsIds.of_rows`` (the lookups by id while the next index is built) makes each
    kind's ids as the index does: above id 0, every record's; above the index's last, none;
    of given ids, theirs; and none past its limit."""
    app = create_app(demo_settings)
    try:
        with app.app_context():
            reads = hsds_reads()[0]
            index = reads.index(True)
            for kind in ("services", "organizations", "locations", "service_at_locations"):
                table: IdTable = getattr(index, kind)
                made = HsdsIds.of_rows(reads.repo, kind, above=0)
                assert made is not None and len(table) > 0 and len(made) == len(table), kind
                assert made.high.tolist() == table.high.tolist(), kind
                assert made.low.tolist() == table.low.tolist(), kind
                assert made.ids.tolist() == table.ids.tolist(), kind
                assert len(HsdsIds.of_rows(reads.repo, kind, above=table.last) or []) == 0
                ours = sorted(table.ids.tolist())
                above = HsdsIds.of_rows(reads.repo, kind, above=ours[-3], limit=2)
                assert above is not None and sorted(above.ids.tolist()) == ours[-2:], kind
                assert HsdsIds.of_rows(reads.repo, kind, above=ours[-4], limit=2) is None
                some = HsdsIds.of_rows(reads.repo, kind, ids=[ours[0], ours[5], 10**9])
                assert some is not None and sorted(some.ids.tolist()) == [ours[0], ours[5]]
    finally:
        app.extensions["directory"].db.dispose()


def test_the_hsds_id_index_finds_every_id_and_nothing_else():
    pairs = [(str(uuid.uuid4()), n) for n in range(2000)]
    # two ids that share their first 64 bits, and one that differs only in its last byte
    pairs += [
        ("0123456789abcdef-0000-0000-00000001", 5001),
        ("0123456789abcdef-0000-0000-00000002", 5002),
    ]
    pairs = [(str(uuid.UUID(text.replace("-", ""))), n) for text, n in pairs]
    table = IdTable(pairs)
    assert len(table) == len(pairs)
    assert all(table.get(text) == n for text, n in pairs)
    assert table.get(str(uuid.UUID(int=0x0123456789ABCDEF_0000_0000_00000003))) is None
    assert table.get(str(uuid.uuid4())) is None
    assert IdTable([]).get(pairs[0][0]) is None


def test_a_worker_builds_the_hsds_id_index_before_it_takes_requests(demo_settings, monkeypatch):
    """A served worker's warm start builds the HSDS id index too, so its first lookup by id
    waits for no build (1.2 s at 100,000 services)."""
    app = create_app(demo_settings.with_overrides(index_rebuild="background"))
    try:
        warm(app)
        builds, original = [], HsdsIds.build
        monkeypatch.setattr(HsdsIds, "build", lambda *a: builds.append(a) or original(*a))
        client = app.test_client()
        for kind in ("services", "organizations"):
            first = client.get(f"/api/v1/hsds/{kind}?per_page=1").json["contents"][0]
            assert client.get(f"/api/v1/hsds/{kind}/{first['id']}").status_code == 200
        assert builds == []
    finally:
        app.extensions["directory"].directory.wait(30)
        app.extensions["directory"].db.dispose()


#: answers read by SQL (not from the directory index) that another process's import
#: changes at once: the changes feed, the service and organisation lists, Open Referral's
#: services (the index's, with their rows read by SQL)
SQL_READS = (
    "/api/v1/changes?area=E09000021",
    "/api/v1/changes.atom?area=E09000021",
    "/api/v1/services?area=E09000021",
    "/api/v1/organisations?q=NEWORG",
    "/api/v1/hsds/services?per_page=5",
)


def test_an_import_by_another_process_never_goes_out_under_the_previous_etag(
    writable_settings, tmp_path
):
    """A worker trusts its data version for DIRECTORY_DATA_VERSION_TTL seconds, and that
    version tags its answers; but what it reads by SQL sees another process's import the
    moment it commits. Such an answer must not go out under the previous version's ETag, and
    a client holding the previous answer must not be told 304 Not Modified: a 304 only for
    the same body, and a new body under a new tag (until 6 December the changes feed went
    out with the import's events under the old tag for up to the TTL, 5 s by default)."""
    reader = create_app(writable_settings.with_overrides(data_version_ttl=3600))
    writer = create_app(writable_settings)  # the import: `directory import` on another host
    try:
        client = reader.test_client()
        held = {url: client.get(url) for url in SQL_READS}
        assert all(answer.status_code == 200 for answer in held.values())
        path = tmp_path / "neworg.csv"
        path.write_text(HEADER + "NEWREF,New Kingston service,Youth diversion,NEWORG,Kingston,"
                        "2026-01-01,active\n")  # fmt: skip
        result = writer.test_cli_runner().invoke(cli, ["import", str(path), "--source", "new"])
        assert result.exit_code == 0, result.output
        changed = 0
        for url, before in held.items():
            now = client.get(url)
            again = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
            if now.get_data() == before.get_data():
                assert again.status_code == 304, url
                continue
            changed += 1
            body = now.get_data()
            assert b"New Kingston service" in body or b"NEWORG" in body, url  # read at once
            assert now.headers["ETag"] != before.headers["ETag"], url
            assert "Last-Modified" not in now.headers, url  # (the version's date is not its)
            assert again.status_code == 200 and again.get_data() == now.get_data(), url
        assert changed >= 3  # the feed, its Atom and the organisations at least
    finally:
        for app in (reader, writer):
            app.extensions["directory"].db.dispose()


def test_a_version_check_asked_for_happens_on_a_machine_up_for_less_than_the_ttl(
    writable_settings, tmp_path, monkeypatch
):
    """A write (and a worker after its own write) asks its geography to check the data
    version now, whatever its TTL. "Never checked" was 0.0 on time.monotonic's clock, which
    counts from the machine's boot: on a machine up for less than the TTL (an hour, say)
    the check was skipped, and a write after another process's refresh was checked and
    placed by the old geography (found on a machine booted 15 minutes before)."""
    clock = [60.0]  # a minute after boot, each reading a millisecond on
    tick = lambda: clock.__setitem__(0, clock[0] + 0.001) or clock[0]  # noqa: E731
    monkeypatch.setattr("directory.usecases.geography.time", SimpleNamespace(monotonic=tick))
    reader = create_app(writable_settings.with_overrides(data_version_ttl=3600))
    writer = create_app(writable_settings)  # another process
    try:
        geography, db = (
            reader.extensions["directory"].geography,
            reader.extensions["directory"].db,
        )
        before = geography.current_of(db).version.id
        assert geography.fresh() is not None  # trusted for the TTL
        path = tmp_path / "neworg.csv"
        path.write_text(HEADER + "NEWREF,New Kingston service,Youth diversion,NEWORG,Kingston,"
                        "2026-01-01,active\n")  # fmt: skip
        result = writer.test_cli_runner().invoke(cli, ["import", str(path), "--source", "new"])
        assert result.exit_code == 0, result.output
        assert geography.fresh().version.id == before  # reads keep theirs until the TTL
        geography.expire()
        assert geography.fresh() is None  # asked to check: not trusted, near boot too
        assert geography.current_of(db).version.id > before  # a write reads the new one
        geography.invalidate()
        assert geography.fresh() is None
    finally:
        for app in (reader, writer):
            app.extensions["directory"].db.dispose()
