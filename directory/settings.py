"""Configuration: one frozen Settings object built from the environment.

This module is the only reader of ``os.environ`` in the project. Every setting has the
prefix ``DIRECTORY_``; see ``.env.example`` for the list with defaults.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PREFIX = "DIRECTORY_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"
LOG_FORMATS = ("text", "json")


def check_limits(text: str) -> bool:
    """Whether ``text`` is a list of rate limits the ``limits`` library reads
    (``5/minute;100/day``), each letting at least one request through (``0/minute`` would
    refuse every one)."""
    from limits import parse_many

    try:
        items = parse_many(text)
    except ValueError:
        return False
    return bool(items) and all(item.amount >= 1 for item in items)


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, not {raw!r}")


def _number(
    name: str, raw: str, kind: type[int] | type[float], most: float, least: float = 0
) -> int | float:
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number, not {raw!r}") from None
    if value != value:  # NaN
        raise SettingsError(f"{PREFIX}{name} must be a number, not {raw!r}")
    if value < 0:
        raise SettingsError(f"{PREFIX}{name} must not be negative, not {raw!r}")
    if value < least:
        raise SettingsError(f"{PREFIX}{name} must be at least {least:,g}, not {raw!r}")
    if value > most:  # (inf too) days past year 9999, ages caches cannot keep…
        raise SettingsError(f"{PREFIX}{name} must be at most {most:,g}, not {raw!r}")
    return value


#: the numeric settings, their type and their largest value: each bound far beyond any
#: sensible value and short of what breaks (a day count past the year 9999, a max-age past
#: RFC 9111's 2**31, a TTL after which no server would see another's import); then, for
#: the few whose smallest value is not 0, that value
NUMBERS: dict[str, tuple[Any, ...]] = {
    "DATA_VERSION_TTL": (float, 3600),
    "CACHE_MAX_AGE": (int, 31_536_000),
    "RIVER_TOLERANCE_M": (float, 10_000),
    "BOUNDARY_MARGIN_M": (float, 10_000),
    "WARD_MARGIN_M": (float, 10_000),
    "BULK_LIMIT": (int, 100_000, 1),  # 0 refused every bulk lookup (at most 0 postcodes)
    "STALE_AFTER_DAYS": (int, 36_500),
    "ENDING_SOON_DAYS": (int, 36_500),
    "CLOSING_SOON_DAYS": (int, 36_500),
    "MAX_UPLOAD_MB": (int, 10_240, 1),  # 0 refused every upload as too large
    "UPLOAD_SECONDS": (float, 3_600, 1),  # 0 s stopped every upload after all its work
    "TRUSTED_PROXIES": (int, 16),
    "PATCH_CACHE_MB": (int, 65_536),
    "FEATURES_CACHE_MB": (int, 65_536),
}

#: the seconds gunicorn lets a request run before it restarts the worker, unless an upload
#: may take longer (``Settings.request_seconds``)
REQUEST_SECONDS = 60
#: what an upload stopped at its limit needs after it to roll back and answer its problem
UPLOAD_MARGIN_SECONDS = 15

#: names under the prefix that are not settings: the test suite's own variables
RESERVED_PREFIXES = ("DIRECTORY_TEST_",)


#: query parameters of a database URL that carry a secret (libpq takes ``password`` and
#: ``sslpassword`` there as well as in the userinfo)
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def shown_url(url: str) -> str:
    """A database URL as it may be shown to people (messages, reports, logs): the password
    of its userinfo and of any ``password=``/``sslpassword=`` query parameter as ``***``.

    Done on the text, not on a parse, so that it holds for URLs no parser accepts (a port
    that is no number, a scheme SQLAlchemy does not know) and for a password with an
    unescaped ``@``: everything between ``://`` and the last ``@`` before the query is
    userinfo, its user name (up to the first ``:``) kept. An SQLite URL (``sqlite:///…``)
    has no userinfo, so an ``@`` in its path is left alone."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, mark, query = rest.partition("?")
    at = rest.rfind("@")
    if at >= 0 and not rest.startswith("/"):
        user, colon, _password = rest[:at].partition(":")
        rest = (f"{user}:***" if colon else user) + rest[at:]
    if mark:
        query = "&".join(
            f"{name}=***" if name.strip().lower() in SECRET_PARAMETERS else item
            for item in query.split("&")
            for name in (item.partition("=")[0],)
        )
    return f"{scheme}://{rest}{mark}{query}"


def _database_url(url: str) -> str:
    """The URL as given, when SQLAlchemy reads it as an SQLite or PostgreSQL database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "sqlite:////srv/directory.sqlite3 or postgresql+psycopg://user@host/db"
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        parsed.port  # noqa: B018 (a port that is no number raises)
    except (ArgumentError, ValueError):
        backend = None
    if backend not in ("sqlite", "postgresql"):
        raise SettingsError(
            f"{PREFIX}DATABASE_URL must be an SQLite or PostgreSQL URL such as {example}, "
            f"not {shown_url(url)!r}"
        )
    if "@" in (parsed.host or ""):  # (the parse took a password's tail for the host)
        raise SettingsError(
            f"{PREFIX}DATABASE_URL {shown_url(url)!r} has an @ in its password or user name: "
            "write it as %40 there"
        )
    try:  # (the driver it names, or its dialect's default, is installed)
        parsed.get_dialect().import_dbapi()
    except (ImportError, ArgumentError):
        raise SettingsError(
            f"{PREFIX}DATABASE_URL {shown_url(url)!r} needs the database driver "
            f"{parsed.get_driver_name()!r}, which is not installed: use a URL such as {example}"
        ) from None
    return url


def _public_url(url: str) -> str:
    return _web_url("PUBLIC_URL", url, "https://directory.example.org").rstrip("/")


def _web_url(name: str, url: str, example: str) -> str:
    """An http(s) URL naming a host, with no query or fragment (a setting that names where
    something is served); anything else is refused at start, naming the setting."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is no number raises)
    except ValueError:
        parts = None
    if (
        parts is None or parts.scheme not in ("http", "https") or not parts.hostname
        or any(c.isspace() for c in url) or parts.query or parts.fragment
    ):  # fmt: skip
        raise SettingsError(
            f"{PREFIX}{name} must start with http:// or https:// and name a host, as "
            f"{example}, not {url!r}"
        )
    return url


#: a 360Giving publisher prefix: "360G-" and the publisher's part (letters, digits, and
#: "-", "_" or "." between them), as 360Giving registers them ("360G-mopac", "360G-blf")
_GIVING360_PREFIX = re.compile(r"360G-[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*")


def _giving360_prefix(raw: str) -> str:
    """The prefix as registered, without the hyphen that joins it to a grant's ref (taken
    off when given: "360G-mopac-" is "360G-mopac")."""
    prefix = raw.rstrip("-")
    if not _GIVING360_PREFIX.fullmatch(prefix):
        raise SettingsError(
            f"{PREFIX}GIVING360_PREFIX must be the publisher's prefix registered with "
            f"360Giving, as 360G-mopac (360G-, then letters and digits), not {raw!r}"
        )
    return prefix


def _rate_limit_storage(raw: str) -> str:
    """memory, database, or a storage URI the ``limits`` library can use here (its scheme
    known and its client library installed)."""
    if raw.lower() in ("memory", "database"):
        return raw.lower()
    if "://" in raw:
        from limits.errors import ConfigurationError
        from limits.storage import storage_from_string

        try:
            storage_from_string(raw)  # makes the client; connects on first use
            return raw
        except ConfigurationError as error:
            reason = f": {error}"
        except Exception:  # noqa: BLE001 (a URI the client library cannot read)
            reason = ""
        raise SettingsError(f"{PREFIX}RATE_LIMIT_STORAGE {raw!r} cannot be used{reason}")
    raise SettingsError(
        f"{PREFIX}RATE_LIMIT_STORAGE must be memory, database or a storage URI "
        f"(redis://…), not {raw!r}"
    )


def _check_names(env: Mapping[str, str]) -> None:
    """A variable under the prefix that names no setting (a misspelling: CACHE_MAXAGE) is
    refused with the closest setting, not silently ignored."""
    import difflib

    known = {PREFIX + f.name.upper() for f in fields(Settings)} - {PREFIX + "EXTRA"}
    for name in sorted(env):
        if name.startswith(PREFIX) and name not in known and not name.startswith(RESERVED_PREFIXES):
            # (compared without the prefix, which every name shares)
            suffixes = sorted(k.removeprefix(PREFIX) for k in known)
            close = difflib.get_close_matches(name.removeprefix(PREFIX), suffixes, n=1)
            hint = f"; did you mean {PREFIX}{close[0]}?" if close else " (see .env.example)"
            raise SettingsError(f"{name} is not a setting{hint}")


@dataclass(frozen=True)
class Settings:
    """Everything the application can be configured with."""

    database_url: str = ""
    instance_dir: Path = DEFAULT_INSTANCE_DIR
    geodata_dir: Path | None = None
    geodata_base_url: str | None = None
    log_level: str = "INFO"
    #: "text" (human-readable lines) or "json" (one JSON object a line, for a log pipeline)
    log_format: str = "text"
    #: seconds a worker trusts its cached copy of the data version before re-reading it
    data_version_ttl: float = 5.0
    #: Cache-Control max-age (seconds) on successful reads
    cache_max_age: int = 300
    #: points on the Thames resolve to the nearest borough within this many metres
    river_tolerance_m: float = 400.0
    #: a point this close (metres) to its borough's edge is flagged near_boundary
    boundary_margin_m: float = 50.0
    #: ward polygons are generalised (ONS BGC, ~20 m); a point this close to its ward's edge
    #: is flagged generalised_boundary
    ward_margin_m: float = 100.0
    bulk_limit: int = 1000
    #: a service whose last_verified date is older than this many days is flagged stale
    stale_after_days: int = 365
    #: grants ending within this many days are "ending soon"
    ending_soon_days: int = 90
    #: an open funding opportunity closing within this many days is "closing soon"
    closing_soon_days: int = 14
    #: the largest file ``POST /api/v1/imports`` takes, in MB (a bigger upload is a 413)
    max_upload_mb: int = 20
    #: the longest an import uploaded over the API may run, in seconds: one past it stops,
    #: writes nothing, and is a 413 naming the command to run instead (gunicorn's worker
    #: timeout and nginx's follow it: ``request_seconds``)
    upload_seconds: float = 45.0
    #: the public base URL the API is served at (``https://…``), named as the OpenAPI
    #: document's server; unset, the document's server is relative (``/``)
    public_url: str | None = None
    #: the sources file ``directory refresh`` runs (TOML)
    sources_file: Path | None = None
    #: the publisher's prefix registered with 360Giving (``360G-mopac``): the 360Giving
    #: export writes the directory's own grants' ids as ``<prefix>-<ref>``, as the standard
    #: requires, and its organisations with no registered org-id (``org:<slug>``) as
    #: ``<prefix>-<slug>``, and the importer takes it off again; unset, their ids are our
    #: refs, which are not 360Giving identifiers (GrantNav refuses them), and the export
    #: says so of both
    giving360_prefix: str | None = None
    #: after rebuilding its in-memory caches a worker freezes its heap (gc.freeze), so the
    #: garbage collections requests trigger skip them; the tests turn this off for speed
    freeze_heap: bool = True
    #: "background": after an import a worker answers from its previous directory index
    #: while a thread builds the next (no request waits for it), and each build makes every
    #: ward's patch parts before it serves, and kept postcodes not read yet are read by a
    #: thread while lookups ask the database; "inline": the first request after an import
    #: builds it and waits, each ward's first patch makes its parts and the first lookup
    #: reads the postcodes (the tests, which read their own writes at once)
    index_rebuild: str = "background"
    #: where rate-limit counters are kept: "memory" (each worker its own), "database" (the
    #: directory's database: shared by every worker and server) or a storage URI the
    #: ``limits`` library knows (``redis://…``, ``memcached://…``)
    rate_limit_storage: str = "memory"
    #: requests with one API key (or, with none, from one address) to the write routes
    rate_limit_writes: str = "60/minute;1000/hour"
    #: feedback sent from one address (the public route, no key)
    rate_limit_feedback: str = "5/minute;30/hour;100/day"
    #: proxies in front of the app whose X-Forwarded-For/-Proto it trusts (nginx on the same
    #: host: 1), so that a rate limit counts the client's address, not the proxy's
    trusted_proxies: int = 0
    #: keep every postcode's row in each worker (11 MB for London) instead of asking the
    #: database per lookup: "auto" (on for PostgreSQL, where the lookup is a round trip to
    #: the server; on for SQLite when serving, ``index_rebuild="background"``, where a
    #: worker reads them before it takes requests and a lookup then costs 30 µs less; off
    #: for SQLite with inline rebuilds, where the first lookup would wait for them), "on"
    #: or "off"
    postcodes_in_memory: str = "auto"
    #: the answers a worker's patch index keeps between requests (funding summaries, area
    #: lists and counts, listed services…), in MB by an estimate of their bytes: past it they
    #: are dropped and kept afresh
    patch_cache_mb: int = 128
    #: the finished OGC site features a worker keeps per data version, in MB by an estimate
    #: of their bytes (a page whose sites were made before is answered without reading
    #: them); 0 keeps none
    features_cache_mb: int = 16
    #: gzip level of the answers to clients that take gzip but not zstd (1 fastest to 9
    #: smallest). 1, as nginx's ``gzip_comp_level``: a 100 KB patch in a fifth to a quarter
    #: of level 6's CPU (0.21–0.26 against 1.1 ms), 25% bigger (15 KB against 12 KB)
    gzip_level: int = 1
    #: serving, a worker whose RSS grew by more than this percentage since it was ready,
    #: after swapping in an index built after an import, is replaced by a new one (made
    #: ready first; ``directory/web/serving/recycle.py``); None ("off"): never
    worker_recycle_growth: int | None = 25
    testing: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.database_url:
            path = self.instance_dir / "directory.sqlite3"
            object.__setattr__(self, "database_url", f"sqlite:///{path}")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def request_seconds(self) -> int:
        """How long a served request may run before gunicorn restarts its worker (its
        ``timeout``; nginx waits a little longer): 60 s, or, when uploads may run longer,
        their limit and the time to roll one back and answer. A worker killed mid-upload
        would answer no problem at all (nginx's 503), where one stopped at its limit
        answers 413 ``import-too-long``."""
        upload = math.ceil(self.upload_seconds) + UPLOAD_MARGIN_SECONDS
        return max(REQUEST_SECONDS, upload)

    @property
    def keep_postcodes(self) -> bool:
        """Whether workers keep every postcode's row in memory (``postcodes_in_memory``)."""
        if self.postcodes_in_memory == "auto":
            return not self.is_sqlite or self.index_rebuild == "background"
        return self.postcodes_in_memory == "on"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (``os.environ`` when omitted)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(PREFIX + name)
            return value.strip() if value is not None and value.strip() != "" else None

        _check_names(env)
        kwargs: dict[str, object] = {}
        if (url := get("DATABASE_URL")) is not None:
            kwargs["database_url"] = _database_url(url)
        if (path := get("INSTANCE_DIR")) is not None:
            kwargs["instance_dir"] = Path(path).resolve()
        if (path := get("GEODATA_DIR")) is not None:
            kwargs["geodata_dir"] = Path(path).resolve()
        if (path := get("SOURCES_FILE")) is not None:
            kwargs["sources_file"] = Path(path).resolve()
        if (url := get("GEODATA_BASE_URL")) is not None:
            kwargs["geodata_base_url"] = _web_url(
                "GEODATA_BASE_URL", url, "https://mirror.example.org/geodata"
            ).rstrip("/")
        if (url := get("PUBLIC_URL")) is not None:
            kwargs["public_url"] = _public_url(url)
        if (raw := get("GIVING360_PREFIX")) is not None:
            kwargs["giving360_prefix"] = _giving360_prefix(raw)
        if (level := get("LOG_LEVEL")) is not None:
            if level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
                raise SettingsError(f"{PREFIX}LOG_LEVEL {level!r} is not a logging level")
            kwargs["log_level"] = level.upper()
        if (fmt := get("LOG_FORMAT")) is not None:
            if fmt.lower() not in LOG_FORMATS:
                raise SettingsError(f"{PREFIX}LOG_FORMAT must be text or json, not {fmt!r}")
            kwargs["log_format"] = fmt.lower()
        for name, (kind, most, *least) in NUMBERS.items():
            if (raw := get(name)) is not None:
                kwargs[name.lower()] = _number(name, raw, kind, most, *least)
        if (raw := get("GZIP_LEVEL")) is not None:
            if raw.strip() not in {str(level) for level in range(1, 10)}:
                raise SettingsError(f"{PREFIX}GZIP_LEVEL must be 1 to 9, not {raw!r}")
            kwargs["gzip_level"] = int(raw)
        if (raw := get("WORKER_RECYCLE_GROWTH")) is not None:
            value = raw.strip()
            if value.lower() == "off":
                kwargs["worker_recycle_growth"] = None
            elif value.isascii() and value.isdigit():  # not "²", which isdigit() takes
                kwargs["worker_recycle_growth"] = int(value)
            else:
                raise SettingsError(
                    f"{PREFIX}WORKER_RECYCLE_GROWTH must be a whole percentage or off, not {raw!r}"
                )
        if (raw := get("FREEZE_HEAP")) is not None:
            kwargs["freeze_heap"] = _bool("FREEZE_HEAP", raw)
        if (mode := get("INDEX_REBUILD")) is not None:
            if mode.lower() not in ("background", "inline"):
                raise SettingsError(
                    f"{PREFIX}INDEX_REBUILD must be background or inline, not {mode!r}"
                )
            kwargs["index_rebuild"] = mode.lower()
        if (raw := get("POSTCODES_IN_MEMORY")) is not None:
            if raw.lower() not in ("auto", "on", "off"):
                raise SettingsError(
                    f"{PREFIX}POSTCODES_IN_MEMORY must be auto, on or off, not {raw!r}"
                )
            kwargs["postcodes_in_memory"] = raw.lower()
        if (raw := get("RATE_LIMIT_STORAGE")) is not None:
            kwargs["rate_limit_storage"] = _rate_limit_storage(raw)
        for name in ("RATE_LIMIT_WRITES", "RATE_LIMIT_FEEDBACK"):
            if (raw := get(name)) is not None:
                if not check_limits(raw):
                    raise SettingsError(
                        f"{PREFIX}{name} must be limits like 60/minute;1000/hour, each of at least 1, not {raw!r}"
                    )
                kwargs[name.lower()] = raw
        if (raw := get("TESTING")) is not None:
            kwargs["testing"] = _bool("TESTING", raw)
        return cls(**kwargs)  # type: ignore[arg-type]

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
