"""Rate limits on the write routes and the public feedback route (Flask-Limiter).

Reads are never limited. A view is marked with :func:`limited` (every route guarded by
:func:`directory.web.auth.requires_key` is marked ``writes``; the feedback route marks
itself ``feedback``); :func:`install` gives each application its own ``Limiter``, counting
in memory, in the directory's database (``directory/store/ratelimit.py``, shared by every
worker and server) or in any storage the ``limits`` library knows, as configured, and wraps
the marked views with their limit. Nothing runs on the other routes.

Answers carry the IETF ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``
(seconds until the window ends) fields; a request over the limit is a ``429`` problem with
``Retry-After`` in seconds.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask_limiter import HeaderNames, Limiter

from directory.settings import Settings
from directory.store import ratelimit
from directory.store.db import Database

#: the attribute a view is marked with: which limit it takes ("writes" or "feedback")
MARK = "_directory_rate_limit"
#: the key text of an API key (directory/usecases/keys.py): a write is counted per key
_BEARER = re.compile(r"Bearer\s+lfsd_([0-9a-f]{12})_", re.IGNORECASE)
RESET = "RateLimit-Reset"
#: what the OpenAPI document says each limit is (directory/web/openapi.py)
DESCRIPTIONS = {
    "writes": "counted per API key (per client address for a request without one)",
    "feedback": "counted per client address",
}


def limited(kind: str) -> Callable[[Any], Any]:
    """Mark a view as taking the ``kind`` limit ("writes" or "feedback")."""

    def mark(view: Any) -> Any:
        setattr(view, MARK, kind)
        return view

    return mark


def _client() -> str:
    return request.remote_addr or "unknown"


def _writer() -> str:
    """A write is counted against the key it claims to be sent with (the prefix, not the
    secret), else against the client's address."""
    match = _BEARER.match(request.headers.get("Authorization", ""))
    return f"key:{match[1].lower()}" if match else f"addr:{_client()}"


def _storage(settings: Settings, db: Database) -> tuple[str, dict[str, Any]]:
    if settings.rate_limit_storage == "memory":
        return "memory://", {}
    if settings.rate_limit_storage == "database":
        return f"{ratelimit.SCHEME}://", {"engine": db.engine}
    return settings.rate_limit_storage, {}


def _reset_in_seconds(response: Response) -> Response:
    """Flask-Limiter writes the window's end as a time stamp; the IETF field is the
    seconds left."""
    reset = response.headers.get(RESET)
    if reset is not None:
        with contextlib.suppress(ValueError):
            response.headers[RESET] = str(max(0, math.floor(float(reset) - time.time())))
    return response


def install(app: Flask, settings: Settings, db: Database) -> Limiter:
    """Give ``app`` its limiter and wrap every marked view with its limit (call after the
    blueprints are registered)."""
    uri, options = _storage(settings, db)
    limiter = Limiter(
        key_func=_client,
        app=app,
        storage_uri=uri,
        storage_options=options,
        strategy="fixed-window",
        headers_enabled=True,
        header_name_mapping={
            HeaderNames.LIMIT: "RateLimit-Limit",
            HeaderNames.REMAINING: "RateLimit-Remaining",
            HeaderNames.RESET: RESET,
            HeaderNames.RETRY_AFTER: "Retry-After",
        },
        retry_after="delta-seconds",
        # a storage that cannot be reached must not stop writes: counted in memory meanwhile
        in_memory_fallback_enabled=True,
    )
    limits = {
        "writes": limiter.limit(settings.rate_limit_writes, key_func=_writer, scope="writes"),
        "feedback": limiter.limit(settings.rate_limit_feedback, key_func=_client, scope="feedback"),
    }
    limited_endpoints = set()
    for endpoint, view in list(app.view_functions.items()):
        kind = getattr(view, MARK, None)
        if kind is not None:
            app.view_functions[endpoint] = limits[kind](view)
            limited_endpoints.add(endpoint)
    _only_on(app, limiter, frozenset(limited_endpoints))
    app.extensions["directory_limiter"] = limiter
    return limiter


def _only_on(app: Flask, limiter: Limiter, endpoints: frozenset[str]) -> None:
    """Run the limiter's hooks on the limited routes only. Flask-Limiter checks every
    request in a before_request hook (its ``auto_check`` switch went in version 4), ~80 µs
    a request where no limit applies, and its header and clean-up hooks ~10 µs more; the
    limited views check their limit in the wrapper ``limiter.limit`` gives them, and the
    other two are called here for those views' requests alone, so reads pay nothing."""
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    after = app.after_request_funcs[None]
    inject = next(
        f for f in after
        if isinstance(f, functools.partial) and f.func.__name__.endswith("inject_headers")
    )  # fmt: skip
    after.remove(inject)
    teardowns = app.teardown_request_funcs[None]
    release = next(f for f in teardowns if getattr(f, "__name__", "").endswith("release_context"))
    teardowns.remove(release)

    def headers(response: Response) -> Response:
        if request.endpoint in endpoints:
            response = _reset_in_seconds(inject(response))
        return response

    def clean_up(error: BaseException | None) -> None:
        if request.endpoint in endpoints:
            release(error)

    app.after_request(headers)  # registered last: runs first, as the limiter's own did
    app.teardown_request(clean_up)
