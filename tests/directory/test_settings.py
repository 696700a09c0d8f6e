"""Settings.from_env: every setting read from DIRECTORY_* and bad values refused clearly."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from directory.settings import Settings, SettingsError


def test_defaults_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings.freeze_heap is True
    assert settings.data_version_ttl == 5.0
    assert settings.log_format == "text"
    assert settings.is_sqlite


def test_values_are_read_and_typed():
    settings = Settings.from_env({
        "DIRECTORY_FREEZE_HEAP": "false",
        "DIRECTORY_DATA_VERSION_TTL": "0.5",
        "DIRECTORY_BULK_LIMIT": "50",
        "DIRECTORY_LOG_LEVEL": "debug",
        "DIRECTORY_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "DIRECTORY_PUBLIC_URL": "https://directory.example.org/",
        "DIRECTORY_PATCH_CACHE_MB": "32",
        "DIRECTORY_FEATURES_CACHE_MB": "0",
        "DIRECTORY_GZIP_LEVEL": "6",
        "DIRECTORY_WORKER_RECYCLE_GROWTH": "40",
    })  # fmt: skip
    assert settings.freeze_heap is False
    assert settings.data_version_ttl == 0.5
    assert settings.bulk_limit == 50
    assert settings.log_level == "DEBUG"
    assert not settings.is_sqlite
    assert settings.public_url == "https://directory.example.org"
    assert settings.patch_cache_mb == 32 and Settings.from_env({}).patch_cache_mb == 128
    assert settings.features_cache_mb == 0 and Settings.from_env({}).features_cache_mb == 16
    assert settings.gzip_level == 6 and Settings.from_env({}).gzip_level == 1
    assert settings.worker_recycle_growth == 40
    assert Settings.from_env({}).worker_recycle_growth == 25
    assert (
        Settings.from_env({"DIRECTORY_WORKER_RECYCLE_GROWTH": " 30 "}).worker_recycle_growth == 30
    )
    assert (
        Settings.from_env({"DIRECTORY_WORKER_RECYCLE_GROWTH": "Off"}).worker_recycle_growth is None
    )


def test_the_360giving_prefix_is_the_registered_one_without_the_joining_hyphen():
    """360Giving registers a publisher's prefix as ``360G-<name>``; the export joins it to a
    ref with a hyphen, so one given with it ("360G-mopac-") is the same prefix."""
    assert Settings.from_env({}).giving360_prefix is None
    for given in ("360G-mopac", " 360G-mopac- "):
        prefix = Settings.from_env({"DIRECTORY_GIVING360_PREFIX": given}).giving360_prefix
        assert prefix == "360G-mopac"
    assert (
        Settings.from_env({"DIRECTORY_GIVING360_PREFIX": "360G-demo-lfsd"}).giving360_prefix
        == "360G-demo-lfsd"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GIVING360_PREFIX", "mopac", "DIRECTORY_GIVING360_PREFIX must be the publisher's"),
        ("GIVING360_PREFIX", "360G-", "DIRECTORY_GIVING360_PREFIX must be the publisher's"),
        ("GIVING360_PREFIX", "360g-mopac", "DIRECTORY_GIVING360_PREFIX must be the publisher's"),
        ("GIVING360_PREFIX", "360G-mo pac", "DIRECTORY_GIVING360_PREFIX must be the publisher's"),
        ("FREEZE_HEAP", "maybe", "DIRECTORY_FREEZE_HEAP must be true or false"),
        ("BULK_LIMIT", "lots", "DIRECTORY_BULK_LIMIT must be a number"),
        ("DATA_VERSION_TTL", "-1", "DIRECTORY_DATA_VERSION_TTL must not be negative"),
        ("LOG_LEVEL", "loud", "is not a logging level"),
        ("LOG_FORMAT", "xml", "DIRECTORY_LOG_FORMAT must be text or json, not 'xml'"),
        ("LOG_FORMAT", "logfmt", "DIRECTORY_LOG_FORMAT must be text or json"),
        ("PUBLIC_URL", "directory.example.org", "DIRECTORY_PUBLIC_URL must start with http"),
        # taken before, then `geodata download` said only "unknown url type"
        ("GEODATA_BASE_URL", "mirror.example.org", "DIRECTORY_GEODATA_BASE_URL must start"),
        ("GEODATA_BASE_URL", "ftp://mirror.example.org", "DIRECTORY_GEODATA_BASE_URL must"),
        ("PATCH_CACHE_MB", "lots", "DIRECTORY_PATCH_CACHE_MB must be a number"),
        ("FEATURES_CACHE_MB", "-1", "DIRECTORY_FEATURES_CACHE_MB must not be negative"),
        ("POSTCODES_IN_MEMORY", "yes", "DIRECTORY_POSTCODES_IN_MEMORY must be auto, on or off"),
        ("GZIP_LEVEL", "0", "DIRECTORY_GZIP_LEVEL must be 1 to 9, not '0'"),
        ("GZIP_LEVEL", "10", "DIRECTORY_GZIP_LEVEL must be 1 to 9"),
        ("GZIP_LEVEL", "fast", "DIRECTORY_GZIP_LEVEL must be 1 to 9"),
        ("WORKER_RECYCLE_GROWTH", "-5", "DIRECTORY_WORKER_RECYCLE_GROWTH must be a whole"),
        ("WORKER_RECYCLE_GROWTH", "25%", "DIRECTORY_WORKER_RECYCLE_GROWTH must be a whole"),
        ("WORKER_RECYCLE_GROWTH", "²", "DIRECTORY_WORKER_RECYCLE_GROWTH must be a whole"),
        # accepted before, and then a 500 on every list (a date past 9999), a server that
        # never saw another's import, a max-age caches cannot hold, a limit refusing all
        ("ENDING_SOON_DAYS", "99999999999", "DIRECTORY_ENDING_SOON_DAYS must be at most 36,500"),
        ("STALE_AFTER_DAYS", "4000000", "DIRECTORY_STALE_AFTER_DAYS must be at most"),
        ("CLOSING_SOON_DAYS", "4000000", "DIRECTORY_CLOSING_SOON_DAYS must be at most"),
        ("DATA_VERSION_TTL", "inf", "DIRECTORY_DATA_VERSION_TTL must be at most 3,600"),
        ("DATA_VERSION_TTL", "nan", "DIRECTORY_DATA_VERSION_TTL must be a number, not 'nan'"),
        ("CACHE_MAX_AGE", "99999999999999999999999", "DIRECTORY_CACHE_MAX_AGE must be at most"),
        ("TRUSTED_PROXIES", "99999999", "DIRECTORY_TRUSTED_PROXIES must be at most 16"),
        # accepted before: every upload then ran all its work and was stopped at once
        ("UPLOAD_SECONDS", "0", "DIRECTORY_UPLOAD_SECONDS must be at least 1, not '0'"),
        ("UPLOAD_SECONDS", "0.5", "DIRECTORY_UPLOAD_SECONDS must be at least 1, not '0.5'"),
        ("UPLOAD_SECONDS", "3601", "DIRECTORY_UPLOAD_SECONDS must be at most 3,600"),
        ("RATE_LIMIT_FEEDBACK", "0/minute", "each of at least 1"),
        ("RATE_LIMIT_WRITES", "60/minute;0/hour", "each of at least 1"),
        ("PUBLIC_URL", "https://a b", "DIRECTORY_PUBLIC_URL must .* name a host"),
        ("PUBLIC_URL", "http://", "DIRECTORY_PUBLIC_URL must .* name a host"),
        ("PUBLIC_URL", "https://example.org:port", "DIRECTORY_PUBLIC_URL must .* name a host"),
        ("DATABASE_URL", "nonsense", "DIRECTORY_DATABASE_URL must be an SQLite or PostgreSQL URL"),
        ("DATABASE_URL", "mysql://u@h/db", "DIRECTORY_DATABASE_URL must be an SQLite or"),
        # tracebacks before (ModuleNotFoundError, ValueError), on the first connection
        ("DATABASE_URL", "postgresql+psycopg2://u@h/db", "needs the database driver 'psycopg2'"),
        ("DATABASE_URL", "postgresql+asyncpg://u@h/db", "needs the database driver 'asyncpg'"),
        ("DATABASE_URL", "sqlite+pysqlcipher:///x", "needs the database driver 'pysqlcipher'"),
        ("DATABASE_URL", "postgresql+psycopg://u@h:port/db", "must be an SQLite or PostgreSQL"),
        # refused everything (at most 0 postcodes; every upload too large)
        ("BULK_LIMIT", "0", "DIRECTORY_BULK_LIMIT must be at least 1, not '0'"),
        ("MAX_UPLOAD_MB", "0", "DIRECTORY_MAX_UPLOAD_MB must be at least 1, not '0'"),
        ("RATE_LIMIT_STORAGE", "foo://x", "RATE_LIMIT_STORAGE 'foo://x' cannot be used: unknown"),
        ("RATE_LIMIT_STORAGE", "disk", "RATE_LIMIT_STORAGE must be memory, database or"),
    ],
)
def test_bad_values_are_refused_by_name(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({f"DIRECTORY_{name}": value})


@pytest.mark.parametrize(
    ("upload_seconds", "request_seconds"),
    [(None, 60), ("1", 60), ("45", 60), ("45.5", 61), ("300", 315), ("3600", 3615)],
)
def test_a_request_may_run_as_long_as_an_upload_and_its_roll_back(upload_seconds, request_seconds):
    """gunicorn's worker timeout (and nginx's wait, past it) is 60 s, or longer when an
    upload may run longer: an upload stopped at its limit must live to answer its 413."""
    env = {} if upload_seconds is None else {"DIRECTORY_UPLOAD_SECONDS": upload_seconds}
    assert Settings.from_env(env).request_seconds == request_seconds


@pytest.mark.parametrize(
    ("raw", "expected"), [("json", "json"), ("JSON", "json"), (" Text ", "text"), ("", "text")]
)
def test_log_format_is_text_or_json_in_any_case(raw, expected):
    assert Settings.from_env({"DIRECTORY_LOG_FORMAT": raw}).log_format == expected


@pytest.mark.parametrize(
    ("raw", "url", "rebuild", "kept"),
    [
        (None, "sqlite:///x.sqlite3", None, True),  # serving: read before requests
        (None, "sqlite:///x.sqlite3", "inline", False),  # the first lookup would wait
        ("auto", "sqlite:///x.sqlite3", "background", True),
        (None, "postgresql+psycopg://u@h/db", None, True),
        ("auto", "postgresql+psycopg://u@h/db", "inline", True),
        ("ON", "sqlite:///x.sqlite3", "inline", True),
        ("off", "postgresql+psycopg://u@h/db", None, False),
        ("off", "sqlite:///x.sqlite3", "background", False),
    ],
)
def test_postcodes_are_kept_in_memory_when_served_or_on_postgresql_unless_told(
    raw, url, rebuild, kept
):
    env = {"DIRECTORY_DATABASE_URL": url}
    if raw is not None:
        env["DIRECTORY_POSTCODES_IN_MEMORY"] = raw
    if rebuild is not None:
        env["DIRECTORY_INDEX_REBUILD"] = rebuild
    assert Settings.from_env(env).keep_postcodes is kept


def test_the_example_environment_file_names_every_setting_and_is_valid():
    """``.env.example`` (which the README says lists every setting) names each one, and
    what it sets is what Settings reads without complaint."""
    path = Path(__file__).resolve().parents[2] / ".env.example"
    assignments = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.lstrip("# ").strip()
        name, equals, value = line.partition("=")
        if equals and name.startswith("DIRECTORY_") and " " not in name:
            assignments[name] = value
    wanted = {f"DIRECTORY_{f.name.upper()}" for f in fields(Settings)} - {
        "DIRECTORY_EXTRA",  # not a variable: what other code reads through Settings
        "DIRECTORY_TESTING",  # the test suite's own switch
    }
    assert wanted - set(assignments) == set()
    settings = Settings.from_env(assignments)
    assert settings.gzip_level == 1


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("DIRECTORY_CACHE_MAXAGE", "did you mean DIRECTORY_CACHE_MAX_AGE?"),
        ("DIRECTORY_RATE_LIMIT_WRITE", "did you mean DIRECTORY_RATE_LIMIT_WRITES?"),
        ("DIRECTORY_COLOUR", "see .env.example"),
    ],
)
def test_a_variable_naming_no_setting_is_refused_not_ignored(name, hint):
    """A misspelt setting was silently ignored (the default served in its place)."""
    with pytest.raises(SettingsError, match=f"{name} is not a setting.*{re.escape(hint)}"):
        Settings.from_env({name: "60"})
    # the test suite's own variables are not settings, and not refused
    assert Settings.from_env({"DIRECTORY_TEST_PG_BIN": "/x"}).cache_max_age == 300


def test_every_numeric_setting_has_a_bound_it_takes_and_one_past_it_refuses():
    """Each numeric setting takes its largest value and refuses the next: the bounds in
    NUMBERS are what from_env enforces, and every numeric field has one."""
    from directory.settings import NUMBERS

    numeric = {
        f"DIRECTORY_{f.name.upper()}"
        for f in fields(Settings)
        if f.type in ("int", "float") and f.name not in ("gzip_level",)
    }
    assert {f"DIRECTORY_{name}" for name in NUMBERS} == numeric
    for name, (kind, most, *least) in NUMBERS.items():
        top = str(kind(most))
        assert getattr(Settings.from_env({f"DIRECTORY_{name}": top}), name.lower()) == kind(most)
        with pytest.raises(SettingsError, match="must be at most"):
            Settings.from_env({f"DIRECTORY_{name}": str(kind(most) + 1)})
        bottom = kind(least[0]) if least else kind(0)  # and the smallest, where it is not 0
        assert (
            getattr(Settings.from_env({f"DIRECTORY_{name}": str(bottom)}), name.lower()) == bottom
        )
        if least:
            with pytest.raises(SettingsError, match="must be at least"):
                Settings.from_env({f"DIRECTORY_{name}": str(bottom - (1 if kind is int else 0.5))})
