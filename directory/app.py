"""The application factory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from flask_compress import Compress
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from directory.settings import Settings
from directory.store.db import Database, Migrations
from directory.store.repositories.search import SearchQueries
from directory.usecases.boxes import BoxIndexCache
from directory.usecases.facts import FactsCache
from directory.usecases.geography import GeographyCache
from directory.usecases.hsds import HsdsIdCache
from directory.usecases.patch import DirectoryCache
from directory.web import heap, http, limits, logs, openapi, routing
from directory.web.api import Api, CanonicalIntConverter
from directory.web.resources import BLUEPRINTS
from directory.web.serving import REQUEST_MAX_MB
from directory.web.site import site
from directory.web.state import AppState, end_request, tag_sql_reads

API_PREFIX = "/api/v1"


class _App(Flask):
    """Flask with the directory's URL map: a trailing slash is sent on, by a 308, to the
    route without it (directory/web/routing.py)."""

    url_map_class = routing.SlashlessMap


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask application for ``settings`` (from the environment when omitted)."""
    settings = settings or Settings.from_env()
    logs.configure(settings)  # once per process; before Flask's logger looks for a handler
    app = _App(__name__, instance_path=str(settings.instance_dir))
    app.url_map.converters["int"] = CanonicalIntConverter  # (before any route is added)
    app.url_map.converters["ref"] = routing.RefConverter
    app.url_map.converters["last_ref"] = routing.LastRefConverter
    app.url_map.converters["service_ref"] = routing.ServiceRefConverter
    app.logger.setLevel(settings.log_level)
    logs.register(app)  # one line per request, written after every other hook has run
    if settings.freeze_heap and heap.can_trim():
        # registered first, so it runs last: on the response as sent (directory/web/heap.py)
        app.after_request(heap.Trimmer())
    app.config.update(
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=REQUEST_MAX_MB * 2**20,  # an import's upload: its own limit
        API_TITLE="London Funded Services Directory",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/swagger-ui/",
        API_SPEC_OPTIONS=openapi.spec_options(settings.public_url),
    )
    db = Database(settings)
    # keep the collector off the long-lived caches once they are built (directory/web/heap.py)
    settle = heap.settle if settings.freeze_heap else None
    # serving, what an import makes stale is made again on a thread while the previous
    # answers; what a thread reads on a connection of its own needs a database it can see
    # (not an in-memory SQLite database: a thread's connection would see another)
    serving = settings.index_rebuild == "background"
    apart = serving and db.keeps_read_connections
    app.extensions["directory"] = AppState(
        settings=settings,
        db=db,
        geography=GeographyCache(
            settings.data_version_ttl,
            on_rebuild=settle,
            keep_postcodes=settings.keep_postcodes,
            # serving: postcodes not read yet are read by a thread, the database meanwhile
            # (not an in-memory SQLite database: a thread's connection would see another)
            read_postcodes_with=db.engine.connect if apart else None,
            migrations=Migrations.of_this_code(),
        ),
        facts=FactsCache(background=apart),
        directory=DirectoryCache(on_rebuild=settle, background=serving),
        hsds_ids=HsdsIdCache(background=apart),
        boxes=BoxIndexCache(
            lambda: _search_apart(db),
            background=serving,
            features_bytes=settings.features_cache_mb << 20,
            on_rebuild=heap.trim if settings.freeze_heap else None,
        ),
    )
    app.teardown_appcontext(end_request)

    # after_request hooks run last-registered first: these headers go on after flask-cors's
    app.after_request(http.security_headers)
    CORS(
        app,
        resources={r"/*": {"origins": "*"}},
        expose_headers=http.EXPOSED_HEADERS,
        max_age=86400,
        send_wildcard=True,
    )
    # after_request hooks run last-registered first: compression is registered before the
    # caching hook so that ETags are computed on the uncompressed body, then suffixed
    app.config.update(
        # zstd to the clients that take it (browsers; curl --compressed and Python's requests
        # where built with zstd): a 100 KB patch in 0.13 ms to 12.5 KB at its level 3,
        # against gzip's 0.21 ms to 15 KB at level 1; gzip to the rest (GDAL, older curl and
        # Python), at DIRECTORY_GZIP_LEVEL
        COMPRESS_ALGORITHM=list(http.CODINGS),
        COMPRESS_ZSTD_LEVEL=3,
        COMPRESS_LEVEL=settings.gzip_level,
        COMPRESS_MIN_SIZE=http.COMPRESS_MIN_SIZE,
        COMPRESS_MIMETYPES=http.COMPRESSIBLE,
        # the caching hook answers If-None-Match and If-Modified-Since before compression,
        # byte_ranges If-Match, If-Unmodified-Since and Range after it (http.py)
        COMPRESS_EVALUATE_CONDITIONAL_REQUEST=False,
    )
    # registered before Compress so that it runs after it: ranges of the body as sent
    app.after_request(http.byte_ranges)
    Compress(app)
    api = Api(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    api.share_document()
    http.register(app, max_age=settings.cache_max_age)
    app.after_request(tag_sql_reads)  # (registered after the caching hook: runs before it)
    limits.install(app, settings, db)  # the write and feedback routes' rate limits
    if settings.trusted_proxies:
        # the client's address and scheme from the proxy's X-Forwarded-For/-Proto
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    # the public page at / and Leaflet from the XStatic-Leaflet package (directory/site)
    app.register_blueprint(site)
    return app


@contextmanager
def _search_apart(db: Database) -> Iterator[SearchQueries]:
    """The search's reads on a connection of their own, in one snapshot (the box arrays)."""
    with db.snapshot() as connection:
        yield SearchQueries(connection)
