"""API keys on the write routes: ``Authorization: Bearer <key>`` (RFC 6750).

:func:`requires_key` guards a view: it reads the header, has
:func:`directory.usecases.keys.authenticate` say whose key it is (401 problems with a
``WWW-Authenticate`` challenge otherwise) and :func:`~directory.usecases.keys.authorise`
check its role (403), then calls the view with ``principal=``; it also documents the
operation's ``bearerAuth`` security and its 401 and 403 answers. Reads take no key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import request

from directory.store.repositories.keys import KeyRepository
from directory.usecases import keys
from directory.usecases.keys import Principal
from directory.web import http, limits
from directory.web.api import ProblemSchema
from directory.web.openapi import BEARER_SCHEME
from directory.web.state import state

#: the headers of an answer over a rate limit (directory/web/limits.py)
RATE_LIMITED_HEADERS = {
    "Retry-After": "RetryAfter",
    "RateLimit-Limit": "RateLimitLimit",
    "RateLimit-Remaining": "RateLimitRemaining",
    "RateLimit-Reset": "RateLimitReset",
}


def principal(*roles: str) -> Principal:
    """Who this request's key belongs to, if its role is one of ``roles`` (or admin)."""
    with state().db.session() as session:
        who = keys.authenticate(KeyRepository(session), request.headers.get("Authorization"))
    return keys.authorise(who, *roles)


def requires_key(blp: Any, *roles: str) -> Callable[[Any], Any]:
    """A view decorator (below ``blp.route``): the view runs only for a key of one of
    ``roles`` (an admin's key may do anything), and is called with ``principal=``."""
    allowed = " or ".join(sorted({"admin", *roles}))

    def decorator(func: Any) -> Any:
        @functools.wraps(func)
        def view(*args: Any, **kwargs: Any) -> Any:
            return func(*args, principal=principal(*roles), **kwargs)

        limits.limited("writes")(view)
        documented = blp.doc(security=[{BEARER_SCHEME: []}])(view)
        documented = blp.alt_response(
            401, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
            headers={"WWW-Authenticate": "WWWAuthenticate"},
            description="missing-key: no `Authorization: Bearer <key>` header (the challenge "
            "names no error); invalid-key, revoked-key, expired-key: the key sent is not one "
            'of this directory, or no longer works (`error="invalid_token"`)',
        )(documented)  # fmt: skip
        documented = blp.alt_response(
            429, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
            headers=RATE_LIMITED_HEADERS,
            description="too-many-requests: over the write rate limit of this key (or, "
            "without a key, of this address); `Retry-After` says when to ask again",
        )(documented)  # fmt: skip
        return blp.alt_response(
            403, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
            headers={"WWW-Authenticate": "WWWAuthenticate"},
            description=f'wrong-role: a valid key, but only an {allowed}\'s key may do this '
            '(`error="insufficient_scope"`)',
        )(documented)  # fmt: skip

    return decorator
