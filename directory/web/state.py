"""Request-scoped access to the application's state, for the resources (web layer only)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, request
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from werkzeug.urls import iri_to_uri

from directory.settings import Settings
from directory.store.db import Database
from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.funding import FundingQueries
from directory.store.repositories.geography import GeographyRepository
from directory.store.repositories.hsds import HsdsQueries
from directory.usecases.boxes import BoxIndexCache
from directory.usecases.facts import FactsCache, FundingData
from directory.usecases.geography import GeographyCache, GeographySnapshot
from directory.usecases.hsds import HsdsIdCache, HsdsIds, Reads
from directory.usecases.opportunities import LONDON_TZ
from directory.usecases.patch import DirectoryCache, DirectoryIndex, warm_wards
from directory.web import http


@dataclass
class AppState:
    settings: Settings
    db: Database
    geography: GeographyCache
    facts: FactsCache  # grants, programmes, population, crime: per data version
    directory: DirectoryCache  # the patch index: per data version and day
    hsds_ids: HsdsIdCache = field(default_factory=HsdsIdCache)  # HSDS ids: per data version
    #: sites and services as arrays, for big spatial pages: per data version
    boxes: BoxIndexCache = field(default_factory=BoxIndexCache)


def state() -> AppState:
    return current_app.extensions["directory"]  # type: ignore[no-any-return]


def connection() -> Connection:
    """The connection for the request's reads (one kept open between requests, see
    :meth:`Database.read_connection`): cheaper than an ORM session or a pool checkout."""
    return state().db.read_connection()


def end_request(_error: BaseException | None = None) -> None:
    state().db.end_reads()


def catalogue() -> CatalogueQueries:
    return CatalogueQueries(sql_connection())


def sql_connection() -> Connection:
    """The request's read connection, for the directory's rows read by SQL rather than from
    the directory index: the first call of a request notes the database's data version
    before any such read, for :func:`tag_sql_reads`."""
    read = connection()
    if "sql_version" not in g:
        g.sql_version = _newest_version(read)
    return read


def _newest_version(read: Connection) -> int | None:
    version = GeographyRepository(read).data_version()
    return version.id if version is not None else None


def tag_sql_reads(response: Response) -> Response:
    """An ``after_request`` hook, run before the caching one. SQL reads see an import the
    moment it commits, while the data version that tags an answer (the geography
    snapshot's) is trusted for DIRECTORY_DATA_VERSION_TTL seconds. Unless the database's
    version before the request's first SQL read and after its last is the tag's, the ETag
    hashes the body (and there is no Last-Modified): else the import's rows went out under
    the tag of the data before it, and a client holding that data was told 304 Not
    Modified until the worker read the new version (`/changes` for a few seconds after
    each import)."""
    before = g.get("sql_version", _UNREAD)
    tagged = g.get("data_version")
    if (
        before is _UNREAD or tagged is None or response.status_code != 200
        or g.get("etag_from_body") or request.method not in ("GET", "HEAD")
    ):  # fmt: skip
        return response
    try:
        after = _newest_version(connection())
    except DBAPIError:
        after = _UNREAD  # (not known: the body's own tag is right whatever it is)
    if not before == after == tagged.id:
        etag_from_body()
    return response


#: no SQL read noted the data version in this request
_UNREAD = object()


def hsds_reads() -> tuple[Reads, GeographyRepository]:
    """What the Open Referral (HSDS) views read through, and the geography repository (for
    postcodes); the HSDS id index of the data version is built on the first lookup by id."""
    app_state = state()
    snap = _snapshot(app_state)
    repo = HsdsQueries(sql_connection())
    version = snap.version.id

    def build_apart() -> HsdsIds:
        with app_state.db.snapshot() as apart:
            return HsdsIds.build(HsdsQueries(apart), version)

    def index(latest: bool) -> HsdsIds:
        build = lambda: HsdsIds.build(repo, version)  # noqa: E731
        return app_state.hsds_ids.get(version, build, build_apart, latest=latest)

    reads = Reads(repo=repo, catalogue=CatalogueQueries(repo.db), snap=snap, index=index)
    return reads, GeographyRepository(repo.db)


def today() -> date:
    """Today in London's calendar (grant dates have no time of day): in summer it begins at
    23:00 UTC. (Until 6 December the UTC date, so from midnight to 1 am in summer a grant
    starting that day was still "planned" and every status was yesterday's.)"""
    return datetime.now(LONDON_TZ).date()


def now() -> datetime:
    """This moment, aware, in UTC (opportunities' statuses depend on the time of day)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DirectoryReads:
    """What a read of the in-memory directory needs, looked up once per request."""

    settings: Settings
    snap: GeographySnapshot
    repo: GeographyRepository  # on the request's read connection
    index: DirectoryIndex  # for the snapshot's data version and today
    today: date


def directory_reads() -> DirectoryReads:
    """The settings, geography snapshot, geography repository, directory index and date of
    this request (the hot views' one call into the application's state)."""
    app_state, day = state(), today()
    snap = _snapshot(app_state)
    index = app_state.directory.current(snap.version.id, day)
    if index is None:
        index = app_state.directory.get(snap.version.id, day, _index_builder(app_state, snap, day))
        if index.version != snap.version.id:  # the previous index, while the next is built
            g.data_version = index.data_version
        if index.day != day:  # yesterday's (grant statuses): not today's ETag
            etag_from_body()
    repo = GeographyRepository(app_state.db.read_connection())
    return DirectoryReads(app_state.settings, snap, repo, index, day)


def warm(app: Flask) -> DirectoryIndex:
    """Make what a worker's first read would wait for: the geography snapshot, its
    postcode table when postcodes are kept (``DIRECTORY_POSTCODES_IN_MEMORY``: 0.6-1.5 s
    reading London's 188,000 rows, which the first lookup by postcode waited for), the
    water between the boroughs (about 1 s, which the first point in no borough waited
    for), the directory index of the current data version and day, every ward's patch parts
    included when serving (12-20 s at 100,000 services), and the HSDS id index (1.2 s
    there). A server's worker calls it before it takes requests
    (``directory.web.serving.gunicorn``), so that no request waits for them; errors (a
    database not reachable yet) are the caller's."""
    with app.app_context():
        try:
            reads = directory_reads()
            if reads.snap.keep_postcodes:
                reads.snap.read_postcodes(reads.repo)
            reads.snap.on_water(0.0, 0.0)  # (the Thames between the boroughs: about 1 s)
            hsds_reads()[0].index(True)
            return reads.index
        finally:
            end_request()


def keep_current(app: Flask, stopped: Callable[[], bool]) -> None:
    """Serving, every ``DIRECTORY_DATA_VERSION_TTL`` seconds: read the data version, and when
    an import (this server's or another's) or midnight made it new, start what the next
    request would start: the next directory index, funding facts and Open Referral id
    index, each built on a thread while the previous answers. So a worker no request
    reached since the import is current within the TTL plus the build, rather than
    answering its first request from the data before the import (a worker's own thread,
    ``directory.web.serving.gunicorn``; until ``stopped()``). Errors (the database away)
    are the next round's to retry; they are logged at debug level, as every read logs them."""
    settings = app.extensions["directory"].settings
    log = logging.getLogger("directory.serving")
    while not stopped():
        time.sleep(max(settings.data_version_ttl, 0.5))
        if stopped():
            return
        with app.app_context():
            try:
                directory_reads()
                facts()
                hsds_reads()[0].index(False)
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.debug("keeping current: %s", exc)
            finally:
                end_request()


def _index_builder(
    app_state: AppState, snap: GeographySnapshot, day: date
) -> Callable[[], DirectoryIndex]:
    """Builds the directory index on a connection of its own (a background build outlives
    the request that started it). Serving (``index_rebuild`` background), the build then
    makes every ward's patch parts (``warm_wards``: 1.4-2.0 s at 100,000 services) before the
    index answers, so that no ward's first patch pays for them."""

    def build() -> DirectoryIndex:
        with app_state.db.snapshot() as connection:  # one snapshot for every query
            facts = app_state.facts.get(snap.version, FundingQueries(connection))
            index = DirectoryIndex.build(
                CatalogueQueries(connection), facts, snap, app_state.settings, day
            )
        index.data_version = snap.version
        if app_state.settings.index_rebuild == "background":  # serving: before it serves
            warm_wards(index, snap, day)
        return index

    return build


def facts() -> FundingData:
    """The facts of the current data version (read once per version and process), shared by
    the funding answers and the patch index. Serving, after an import the previous
    version's answer while a thread reads the new ones: then the answer's ETag hashes its
    body (it may join them with the new version's rows) and it has no Last-Modified."""
    app_state = state()
    snap = _snapshot(app_state)
    data, current = app_state.facts.latest(
        snap.version, FundingQueries(app_state.db.read_connection()), _funding_apart(app_state)
    )
    if not current:
        etag_from_body()
    return data


def funding_answer(
    name: str, args: Mapping[str, Any], make: Callable[[FundingData], Mapping[str, Any]],
    *path: str,
) -> Response:  # fmt: skip
    """The JSON response of a funding answer (``make``, from the facts), kept with the facts
    by ``name``, the day, the path's parts and the query's arguments (scalars)."""
    data = facts()
    key = (name, today(), *path, *sorted(args.items()))
    return http.json_response(data.answer(key, lambda: make(data)))


def _funding_apart(app_state: AppState) -> Callable[[], AbstractContextManager[FundingQueries]]:
    @contextmanager
    def reader() -> Iterator[FundingQueries]:
        with app_state.db.snapshot() as connection:
            yield FundingQueries(connection)

    return reader


def geography_repo() -> GeographyRepository:
    return GeographyRepository(connection())


def snapshot() -> GeographySnapshot:
    return _snapshot(state())


def _snapshot(app_state: AppState) -> GeographySnapshot:
    cache = app_state.geography
    snap = cache.fresh() or cache.get(GeographyRepository(app_state.db.read_connection()))
    g.data_version = snap.version
    return snap


def etag_from_body() -> None:
    """This answer can change without the data version moving (a failed import adds a
    run but no data release): its ETag hashes the body instead."""
    g.etag_from_body = True


_MIMETYPES = {
    "json": "application/json",
    "geojson": http.GEOJSON_MIMETYPE,
    "csv": http.CSV_MIMETYPE,
}


def representation(format: str | None, offered: tuple[str, ...] = ("json", "geojson")) -> str:
    """The representation asked for: ``format`` when given, else the best of ``offered``
    by the Accept header (JSON by default)."""
    if format is not None:
        return format
    accept = request.environ.get("HTTP_ACCEPT")
    if not accept or accept == "*/*":  # most requests: no preference, JSON
        return "json"
    best = http.best_of([_MIMETYPES[o] for o in offered], default="application/json")
    return next((o for o in offered if _MIMETYPES[o] == best), "json")


def wants_geojson(format: str | None) -> bool:
    return representation(format) == "geojson"


def _page_urls(per_page: int, format: str | None = None) -> Callable[[int], str]:
    """This request's URL for any page (and optionally another format): the query encoded
    once, its ``page`` member then set for each page asked for."""
    args = request.args.to_dict(flat=False)
    args.update(page=["1"], per_page=[str(per_page)])
    if format is not None:
        args["format"] = [format]
    parts = urlencode(args, doseq=True).split("&")
    at = next(i for i, part in enumerate(parts) if part.startswith("page="))  # the one "page"
    # the path as sent (a ref's "%2F" kept; its é or € percent-encoded: a header is ASCII)
    base = iri_to_uri(request.host_url).rstrip("/") + http.sent_path()

    def url(number: int) -> str:
        parts[at] = f"page={number}"
        return f"{base}?{'&'.join(parts)}"

    return url


def page_url(number: int, per_page: int, format: str | None = None) -> str:
    """This request's URL for another page (and optionally another format)."""
    return _page_urls(per_page, format)(number)


def page_links(
    page: int, per_page: int, total_pages: int, format: str | None = None, *, own: bool = True
) -> list[tuple[str, str, str]]:
    """(rel, url, title) for self (unless not ``own``), first, last, prev and next (RFC
    8288)."""
    url = _page_urls(per_page, format)
    links = [("self", url(page), "This page")] if own else []
    links += [("first", url(1), "First page"), ("last", url(total_pages), "Last page")]
    if page > 1:
        links.append(("prev", url(min(page - 1, total_pages)), "Previous page"))
    if page < total_pages:
        links.append(("next", url(page + 1), "Next page"))
    return links


def link_header(page: int, per_page: int, total_pages: int, format: str | None = None) -> str:
    return ", ".join(
        f'<{url}>; rel="{rel}"'
        for rel, url, _ in page_links(page, per_page, total_pages, format, own=False)
    )


def paged_response(body: dict[str, Any], page: int, per_page: int) -> Response:
    """The page envelope as JSON, with RFC 8288 Link headers to first/prev/next/last."""
    response = http.json_response(body)
    response.headers["Link"] = link_header(page, per_page, body["total_pages"])
    return response
