"""Rate limits on the write routes and the public feedback route (Flask-Limiter).

Reads are never limited. A view is marked with :func:`limited`, saying which limit it takes
and whom a request is counted against (every route guarded by
:func:`directory.web.auth.requires_key` is marked ``writes``, counted per key when the
header names a key this directory has and per client address otherwise; the feedback route
marks itself ``feedback``, per address); :func:`install` gives each application its own ``Limiter``,
counting in memory, in the directory's database (``directory/store/ratelimit.py``, shared by
every worker and server) or in any storage the ``limits`` library knows, as configured, and
wraps the marked views with their limit. Nothing runs on the other routes.

Answers carry the IETF ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``
(seconds until the window ends) fields; a request over the limit is a ``429`` problem with
``Retry-After`` in seconds.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask_limiter import HeaderNames, Limiter

from directory.settings import Settings
from directory.store import ratelimit
from directory.store.db import Database

#: the attribute a view is marked with: which limit it takes ("writes" or "feedback") and
#: what a request is counted against
MARK = "_directory_rate_limit"
RESET = "RateLimit-Reset"
#: what the OpenAPI document says each limit is (directory/web/openapi.py)
DESCRIPTIONS = {
    "writes": "counted per API key (per client address for a request without a key this "
    "directory has)",
    "feedback": "counted per client address",
}


def client() -> str:
    """The client's address (behind trusted proxies, the one they were sent from)."""
    return request.remote_addr or "unknown"


def limited(kind: str, per: Callable[[], str] = client) -> Callable[[Any], Any]:
    """Mark a view as taking the ``kind`` limit ("writes" or "feedback"), counted against
    what ``per`` says of the request (by default, its client's address)."""

    def mark(view: Any) -> Any:
        setattr(view, MARK, (kind, per))
        return view

    return mark


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


#: feedback refused for what it says: a person correcting the form, not counted
_REFUSED_CONTENT = frozenset((400, 415, 422))


def _accepted(response: Response) -> bool:
    return response.status_code not in _REFUSED_CONTENT


def install(app: Flask, settings: Settings, db: Database) -> Limiter:
    """Give ``app`` its limiter and wrap every marked view with its limit (call after the
    blueprints are registered)."""
    uri, options = _storage(settings, db)
    limiter = Limiter(
        key_func=client,
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
    rates = {"writes": settings.rate_limit_writes, "feedback": settings.rate_limit_feedback}
    limits: dict[tuple[str, Callable[[], str]], Any] = {}
    limited_endpoints = set()
    for endpoint, view in list(app.view_functions.items()):
        mark = getattr(view, MARK, None)
        if mark is not None:
            if mark not in limits:  # one limit (one count) for all the views marked alike
                kind, per = mark
                limits[mark] = limiter.limit(
                    rates[kind], key_func=per, scope=kind,
                    # feedback refused for what it says (400, 415, 422) is not counted: a
                    # person correcting a form is not sending more (the page probe: four
                    # refusals and one success used up the five a minute). The limit is
                    # tested before and counted after: a burst sent at once may pass it by
                    # the requests in flight
                    deduct_when=_accepted if kind == "feedback" else None,
                )  # fmt: skip
            app.view_functions[endpoint] = limits[mark](view)
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
            own = response.headers.get("Retry-After")
            response = _reset_in_seconds(inject(response))
            if response.status_code != 429:
                # the limiter sends its window's Retry-After on every answer; RFC 9110
                # §10.2.3 gives it meaning on a 429 (the limit's), a 503 (the answer's own,
                # or none: database-read-only) and redirects, so a 201 or a 503 keeps its own
                del response.headers["Retry-After"]
                if own is not None:
                    response.headers["Retry-After"] = own
        return response

    def clean_up(error: BaseException | None) -> None:
        if request.endpoint in endpoints:
            release(error)

    app.after_request(headers)  # registered last: runs first, as the limiter's own did
    app.teardown_request(clean_up)
