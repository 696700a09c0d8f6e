"""Rate limits on the write routes (Flask-Limiter, directory/web/limits.py), on SQLite and
PostgreSQL: the IETF RateLimit-* headers, 429 problems with Retry-After, counting per key,
per address (behind a trusted proxy, the client's), in memory per worker or in the
database shared by every worker; reads never limited."""

from __future__ import annotations

import secrets
from datetime import datetime

import pytest
from sqlalchemy import create_engine, select

from directory import create_app
from directory.cli import cli
from directory.settings import Settings, SettingsError
from directory.store import ratelimit
from directory.store.models import RateLimit
from directory.store.ratelimit import DatabaseStorage
from directory.usecases import keys
from tests.directory.test_import import HEADER, OXYGEN
from tests.directory.test_keys import assert_problem, make_key, run, set_key, upload


@pytest.fixture()
def apps(writable_settings):  # type: ignore[no-untyped-def]
    """Make applications (workers) on this test's database with a write limit of 2 a
    minute; each is disposed of at the end."""
    made = []

    def make(**overrides):  # type: ignore[no-untyped-def]
        settings = writable_settings.with_overrides(
            rate_limit_writes="2/minute", **{"rate_limit_storage": "database", **overrides}
        )
        app = create_app(settings)
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["directory"].db.dispose()


def dry_run(app, key=None, **headers):  # type: ignore[no-untyped-def]
    return upload(app, HEADER + OXYGEN, key=key, dry_run="true", headers=headers)


def test_writes_over_the_limit_are_429_problems_saying_when_to_retry(apps):
    app = apps()
    key = make_key(app, "officer")["key"]
    first, second, third = (dry_run(app, key) for _ in range(3))
    assert (first.status_code, second.status_code) == (200, 200), first.json
    assert [r.headers["RateLimit-Limit"] for r in (first, second)] == ["2", "2"]
    assert [r.headers["RateLimit-Remaining"] for r in (first, second)] == ["1", "0"]
    assert 0 < int(first.headers["RateLimit-Reset"]) <= 60
    # Retry-After means something on a 429 (RFC 9110 §10.2.3), not on an answer that went
    # through (the limiter sent its window's on every one)
    assert "Retry-After" not in first.headers and "Retry-After" not in second.headers
    problem = assert_problem(third, 429, "too-many-requests")
    assert "2 per 1 minute" in problem["detail"]
    assert 0 < int(third.headers["Retry-After"]) <= 60
    assert third.headers["RateLimit-Remaining"] == "0"


def test_each_key_is_counted_apart(apps):
    app = apps()
    one, other = (make_key(app, "officer")["key"] for _ in range(2))
    for _ in range(2):
        assert dry_run(app, one).status_code == 200
    assert dry_run(app, one).status_code == 429
    assert dry_run(app, other).status_code == 200


def test_requests_without_a_usable_key_are_counted_by_address(apps):
    app = apps()
    key = make_key(app, "officer")["key"]
    for _ in range(2):
        assert_problem(dry_run(app), 401, "missing-key")
    assert_problem(dry_run(app), 429, "too-many-requests")
    assert dry_run(app, key).status_code == 200  # a key is counted on its own


def counters(app):  # type: ignore[no-untyped-def]
    with app.extensions["directory"].db.engine.connect() as connection:
        return connection.execute(select(RateLimit.key).order_by(RateLimit.key)).scalars().all()


def test_made_up_keys_are_counted_by_address_with_no_counter_each(apps):
    """A malformed key or an unknown prefix (the review's flood of 100 made-up keys, none
    limited, each opening a counter row) counts against the client's address, as a request
    without a key."""
    app = apps()
    key = make_key(app, "officer")
    made_up = [
        f"lfsd_{secrets.token_hex(6)}_x",  # malformed (the reviewer's flood)
        f"lfsd_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",  # well formed, unknown
        "Basic dXNlcjpwYXNz",
    ]
    assert_problem(dry_run(app), 401, "missing-key")  # the address's first of 2
    assert_problem(dry_run(app, made_up[0]), 401, "invalid-key")  # and its second
    for junk in made_up * 4:
        assert_problem(dry_run(app, junk), 429, "too-many-requests")
    assert_problem(dry_run(app), 429, "too-many-requests")
    assert len(counters(app)) == 1  # the address's, not one a key claimed
    assert dry_run(app, key["key"]).status_code == 200  # a real key: its own counter
    assert len(counters(app)) == 2


def test_a_known_key_is_limited_before_its_secret_is_checked(apps, monkeypatch):
    """A real prefix with wrong secrets, a revoked and an expired key are counted against
    that key, and past the limit answered 429 without hashing the secret (each guess at one
    key's secret costs ~50 ms of scrypt: unlimited, they would be a way to load the server)."""
    app = apps()
    key, revoked, expired = (make_key(app, "officer") for _ in range(3))
    prefix = key["key"].split("_")[1]
    assert run(app, "keys", "revoke", str(revoked["id"])).exit_code == 0
    set_key(app, expired["id"], expires_at=datetime(2020, 1, 1))
    guesses = [f"lfsd_{prefix}_{secrets.token_urlsafe(32)}" for _ in range(4)]
    for guess in guesses[:2]:
        assert_problem(dry_run(app, guess), 401, "invalid-key")
    hashed = []
    real = keys.secret_matches
    monkeypatch.setattr(keys, "secret_matches", lambda *a: hashed.append(a) or real(*a))
    for guess in guesses[2:]:
        assert_problem(dry_run(app, guess), 429, "too-many-requests")
    assert hashed == []  # refused by the limit, before any hashing
    assert_problem(dry_run(app, key["key"]), 429, "too-many-requests")  # the key's counter
    for other in (revoked, expired):
        assert dry_run(app, other["key"]).status_code == 401
        assert dry_run(app, other["key"]).status_code == 401
        assert_problem(dry_run(app, other["key"]), 429, "too-many-requests")
    assert dry_run(app).status_code == 401  # the address itself is not used up by them
    assert len(counters(app)) == 4  # the three keys' and the address's


def test_behind_a_trusted_proxy_the_client_address_is_counted(apps):
    app = apps(trusted_proxies=1)
    for _ in range(2):
        assert dry_run(app, **{"X-Forwarded-For": "198.51.100.1"}).status_code == 401
    assert dry_run(app, **{"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    assert dry_run(app, **{"X-Forwarded-For": "198.51.100.2"}).status_code == 401


def test_counted_in_the_database_the_limit_holds_across_workers(apps):
    one, two = apps(), apps()
    key = make_key(one, "officer")["key"]
    assert [dry_run(one, key).status_code, dry_run(two, key).status_code] == [200, 200]
    assert dry_run(two, key).status_code == 429
    assert dry_run(one, key).status_code == 429


def test_counted_in_memory_each_worker_counts_its_own(apps):
    one, two = apps(rate_limit_storage="memory"), apps(rate_limit_storage="memory")
    key = make_key(one, "officer")["key"]
    for _ in range(2):
        assert dry_run(one, key).status_code == 200
    assert dry_run(one, key).status_code == 429
    assert dry_run(two, key).status_code == 200


def test_flask_limiters_own_config_command_shows_the_database_storage(apps):
    """`directory limiter config` (Flask-Limiter's) shows where the counts are kept and
    that the storage answers, without the database's password (it failed with an
    AttributeError on the database storage)."""
    app = apps()
    result = app.test_cli_runner().invoke(cli, ["limiter", "config"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    url = app.extensions["directory"].db.engine.url
    assert "DatabaseStorage" in result.output and "OK" in result.output
    assert f"rate_limit in {url.render_as_string()}" in result.output
    secret = create_engine("postgresql+psycopg://directory:s3cret@db.example/directory")
    assert "s3cret" not in DatabaseStorage(engine=secret).storage


def test_reads_are_never_limited(apps):
    app = apps()
    client = app.test_client()
    for _ in range(5):
        response = client.get("/api/v1/imports")
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response.headers


def test_a_database_counter_restarts_when_its_window_ends(writable_settings):
    app = create_app(writable_settings)
    try:
        storage = DatabaseStorage(engine=app.extensions["directory"].db.engine)
        assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
        assert storage.get("k") == 3 and storage.get_expiry("k") > 0
        assert storage.incr("gone", 0) == 1 and storage.get("gone") == 0
        assert storage.incr("gone", 60) == 1  # a new window, not 2
        storage.clear("k")
        assert storage.get("k") == 0 and storage.check()
    finally:
        app.extensions["directory"].db.dispose()


def test_expired_database_counters_are_purged_as_counts_are_written(writable_settings):
    app = create_app(writable_settings)
    try:
        storage = DatabaseStorage(engine=app.extensions["directory"].db.engine)
        for n in range(5):
            storage.incr(f"gone-{n}", 0)  # windows that have ended at once
        storage.incr("live", 60)
        assert len(counters(app)) == 6
        for _ in range(ratelimit.PURGE_EVERY):
            storage.incr("live", 60)
        assert counters(app) == ["live"]
        assert storage.get("live") == ratelimit.PURGE_EVERY + 1  # a live count is kept
        for n in range(3):
            storage.incr(f"gone-{n}", 0)
        assert storage.purge(batch=2) == 2 and len(counters(app)) == 2  # at most a batch
        assert storage.purge() == 1 and storage.purge() == 0 and counters(app) == ["live"]
    finally:
        app.extensions["directory"].db.dispose()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RATE_LIMIT_WRITES", "lots", "RATE_LIMIT_WRITES must be limits"),
        ("RATE_LIMIT_FEEDBACK", "5 a minute", "RATE_LIMIT_FEEDBACK must be limits"),
        ("RATE_LIMIT_STORAGE", "disk", "RATE_LIMIT_STORAGE must be memory, database"),
    ],
)
def test_bad_limit_settings_are_refused_by_name(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({f"DIRECTORY_{name}": value})


def test_limit_settings_are_read():
    settings = Settings.from_env(
        {"DIRECTORY_RATE_LIMIT_WRITES": "10/second", "DIRECTORY_RATE_LIMIT_STORAGE": "Database",
         "DIRECTORY_TRUSTED_PROXIES": "1"}
    )  # fmt: skip
    assert settings.rate_limit_writes == "10/second"
    assert settings.rate_limit_storage == "database" and settings.trusted_proxies == 1


def test_the_purge_finds_ended_counters_by_an_index(writable_settings):
    """The purge asks for counters whose window has ended: by the index on ``expires_at``
    (migration 0015), not by reading every counter."""
    from sqlalchemy import select

    from directory.store.models import RateLimit

    app = create_app(writable_settings)
    engine = app.extensions["directory"].db.engine
    query = select(RateLimit.key).where(RateLimit.expires_at <= 1e9).limit(1000)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                plan = " ".join(
                    str(r) for r in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
                )
            else:  # an empty table is read whole unless scans are made dear
                connection.exec_driver_sql("SET enable_seqscan = off")
                plan = " ".join(r[0] for r in connection.exec_driver_sql(f"EXPLAIN {sql}"))
        assert "ix_rate_limit_expires_at" in plan, plan
    finally:
        app.extensions["directory"].db.dispose()
