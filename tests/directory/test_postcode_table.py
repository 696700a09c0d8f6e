"""Postcodes kept in the worker (``DIRECTORY_POSTCODES_IN_MEMORY``): every row the table
gives back equals the database's, and every postcode answer is the same with it or without
it, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from directory import create_app
from directory.store.repositories.geography import GeographyRepository, PostcodeRow
from directory.usecases.postcode_table import PostcodeTable
from directory.web.state import warm


@pytest.fixture(scope="module")
def apps(shared_demo_app: Flask) -> Iterator[dict[str, Flask]]:
    """Two more apps on the shared demo database: postcodes kept in memory, and not."""
    settings = shared_demo_app.extensions["directory"].settings
    made = {
        mode: create_app(settings.with_overrides(postcodes_in_memory=mode))
        for mode in ("on", "off")
    }
    yield made
    for app in made.values():
        app.extensions["directory"].db.dispose()


@pytest.fixture(scope="module")
def rows(shared_demo_app: Flask) -> list[Any]:
    with shared_demo_app.extensions["directory"].db.engine.connect() as connection:
        chunks = GeographyRepository(connection).every_postcode()
        return [PostcodeRow(*row) for chunk in chunks for row in chunk]


def test_the_table_gives_back_every_row_as_the_database_holds_it(shared_demo_app, rows):
    table = PostcodeTable([rows[i : i + 7_000] for i in range(0, len(rows), 7_000)])
    assert len(table) == len(rows) > 180_000
    assert {r.status for r in rows} == {"live", "terminated"}
    assert any(r.terminated is None for r in rows) and any(r.terminated for r in rows)
    mismatched = [r for r in rows if table.get(r.canonical) != r]
    assert mismatched == []
    # and the streamed rows are the rows the per-request lookup reads
    sample = random.Random(7).sample(rows, 300)
    with shared_demo_app.extensions["directory"].db.engine.connect() as connection:
        repo = GeographyRepository(connection)
        assert [repo.postcode(r.canonical) for r in sample] == sample
    for missing in ("ZZ99ZZ", "", "SE17PBSE17PB", "SÉ17PB", "A"):
        assert table.get(missing) is None
    assert table.nbytes < 64 * len(rows)  # compact: 60 bytes a postcode


def test_auto_keeps_them_on_postgresql_only_when_rebuilt_inline(shared_demo_app):
    """(Served, with background rebuilds, SQLite keeps them too: test_settings.)"""
    settings = shared_demo_app.extensions["directory"].settings
    state = shared_demo_app.extensions["directory"]
    assert settings.index_rebuild == "inline"
    assert settings.keep_postcodes is (not settings.is_sqlite)
    assert state.geography.keep_postcodes is settings.keep_postcodes


@contextlib.contextmanager
def every_postcode_read(engine: Any) -> Iterator[list[str]]:
    """Within the block, the name of the thread that ran each chunk of
    ``GeographyRepository.every_postcode`` on ``engine`` (an empty list: none was read)."""
    readers: list[str] = []

    def seen(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "ORDER BY postcode.canonical" in statement:  # every_postcode's chunks
            readers.append(threading.current_thread().name)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield readers
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def _reads_every_postcode(app: Flask, url: str) -> tuple[int, int]:
    """(status of GET ``url``, how many chunks of every postcode's row it read)."""
    with every_postcode_read(app.extensions["directory"].db.engine) as readers:
        status = app.test_client().get(url).status_code
    return status, len(readers)


def test_a_worker_reads_them_before_it_takes_requests(shared_demo_app):
    """A served worker's warm start (``directory.web.serving.gunicorn``) reads every
    postcode's row, so that its first patch by postcode waits for none of them; without
    it the first lookup reads them all (0.6-1.5 s for London's)."""
    settings = shared_demo_app.extensions["directory"].settings
    kept = settings.with_overrides(postcodes_in_memory="on")
    warmed, cold = create_app(kept), create_app(kept)
    try:
        warm(warmed)
        assert _reads_every_postcode(warmed, "/api/v1/patch?postcode=SE1%207PB") == (200, 0)
        assert _reads_every_postcode(warmed, "/api/v1/postcodes/E2%200AA") == (200, 0)
        status, chunks = _reads_every_postcode(cold, "/api/v1/patch?postcode=SE1%207PB")
        assert status == 200 and chunks > 30  # 5,000 rows a chunk
    finally:
        for app in (warmed, cold):
            app.extensions["directory"].db.dispose()


def test_served_a_new_snapshot_asks_the_database_while_a_thread_reads_them(shared_demo_app):
    """Serving (``index_rebuild`` background), a snapshot made after the first (a new
    geography release's; here after ``invalidate``) answers from the database while a
    thread of its own reads every postcode: no request reads them, and the answers are the
    same before and after. The first snapshot's are read where first asked (a served
    worker's warm start)."""
    settings = shared_demo_app.extensions["directory"].settings.with_overrides(
        postcodes_in_memory="on", index_rebuild="background"
    )
    app = create_app(settings)
    state = app.extensions["directory"]
    try:
        with every_postcode_read(state.db.engine) as readers:
            client = app.test_client()
            urls = ["/api/v1/postcodes/SE1%207PB", "/api/v1/patch?postcode=E2%200AA"]
            first = [client.get(url) for url in urls]
            assert readers and set(readers) == {threading.current_thread().name}  # the first
            readers.clear()
            state.geography.invalidate()  # as a new geography release
            before = [client.get(url) for url in urls]
            assert [r.status_code for r in before] == [200, 200]
            with state.db.engine.connect() as connection:
                repo = GeographyRepository(connection)
                snap = state.geography.get(repo)
                deadline = time.monotonic() + 60
                while snap.postcode_table(repo) is None:
                    assert time.monotonic() < deadline, "the postcodes were never read"
                    time.sleep(0.05)
            after = [client.get(url) for url in urls]
            answers = [r.get_json() for r in first]
            assert [r.get_json() for r in before] == answers == [r.get_json() for r in after]
            assert len(readers) > 30 and set(readers) == {"directory-postcodes"}
    finally:
        state.db.dispose()


def _sample(rows: list[Any]) -> list[str]:
    chosen = random.Random(11)
    live = [r.display for r in rows if r.status == "live"]
    terminated = [r.display for r in rows if r.status == "terminated"]
    return [*chosen.sample(live, 60), *chosen.sample(terminated, 20)]


def test_every_answer_is_the_same_kept_or_not(apps, rows):
    sent = _sample(rows)
    odd = ["SE1 9ZZ", "ZZ99 9ZZ", "not a postcode", "se17pb", "SW1A 1AA "]
    kept, asked = apps["on"].test_client(), apps["off"].test_client()
    for postcode in [*sent, *odd]:
        for url in (
            f"/api/v1/postcodes/{postcode}",
            f"/api/v1/patch?postcode={postcode}",
            f"/api/v1/partners?postcode={postcode}",
        ):
            a, b = kept.get(url), asked.get(url)
            assert (a.status_code, a.get_json()) == (b.status_code, b.get_json()), url
    body = {"postcodes": [*sent, *odd]}
    a = kept.post("/api/v1/postcodes/lookup", json=body)
    b = asked.post("/api/v1/postcodes/lookup", json=body)
    assert a.status_code == b.status_code == 200
    assert a.get_json() == b.get_json()
    assert a.get_json()["results"][-5]["problem"]["code"] == "postcode-not-found"
    a = kept.post("/api/v1/patch/lookup", json=body)
    b = asked.post("/api/v1/patch/lookup", json=body)
    assert (a.status_code, a.get_json()) == (b.status_code, b.get_json())
    # the app that keeps them did answer from its table
    assert apps["on"].extensions["directory"].geography._snapshot._postcodes is not None
    assert apps["off"].extensions["directory"].geography._snapshot._postcodes is None
