"""API keys on the write routes: ``Authorization: Bearer <key>`` (RFC 6750).

:func:`requires_key` guards a view: it reads the header, has
:func:`directory.usecases.keys.authenticate` say whose key it is (401 problems with a
``WWW-Authenticate`` challenge otherwise) and :func:`~directory.usecases.keys.authorise`
check its role (403), then calls the view with ``principal=``; it also documents the
operation's ``bearerAuth`` security and its 401 and 403 answers. Reads take no key.

The write rate limit decides whom a request is counted against before any secret is
hashed (:func:`counted_as`): a key this directory has, by the prefix the header names
(whether or not the secret matches, revoked or expired too), on its own counter; any other
request (no key, a malformed one, an unknown prefix) against its client's address, so that
made-up keys are limited as a request without one and open no counter each. Who the key
belongs to is then kept with the request (in its WSGI environ, not ``flask.g``, which
requests made inside an application context already pushed share), so its secret is hashed
once a request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import request

from directory.errors import AuthenticationError
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
#: where a request keeps whose its key is (or why it is no one's), once found
_FOUND = "directory.principal"
#: where a request keeps the rows of the keys it named, by prefix, once looked up
_ROWS = "directory.key_rows"


class _RequestKeys(KeyRepository):
    """The keys as one request sees them: a key's row is looked up once by its prefix (the
    write rate limit names the key, once for each limit it counts, and then the key is
    authenticated: three lookups of the same row a write, before)."""

    def by_prefix(self, prefix: str) -> Any:
        rows = request.environ.setdefault(_ROWS, {})
        if prefix not in rows:
            rows[prefix] = super().by_prefix(prefix)
        return rows[prefix]


def authenticated() -> Principal:
    """Who this request's key belongs to (an AuthenticationError, 401, when there is none or
    it does not authenticate), found once a request."""
    found = request.environ.get(_FOUND)
    if found is None:
        try:
            with state().db.session() as session:
                authorization = request.headers.get("Authorization")
                found = keys.authenticate(_RequestKeys(session), authorization)
        except AuthenticationError as error:
            found = error
        request.environ[_FOUND] = found
    if isinstance(found, AuthenticationError):
        raise found
    return found  # type: ignore[no-any-return]


def principal(*roles: str) -> Principal:
    """Who this request's key belongs to, if its role is one of ``roles`` (or admin)."""
    return keys.authorise(authenticated(), *roles)


def counted_as() -> str:
    """What a write is counted against (directory/web/limits.py), decided before any secret
    is hashed: the key a well-formed header names by a prefix this directory has (its own
    counter, whether or not the secret matches, so guessing one key's secret is limited
    before each guess costs a hash), else the client's address, as for a request without
    a key (a made-up or malformed key opens no counter of its own)."""
    with state().db.session() as session:
        key_id = keys.claimed_key(_RequestKeys(session), request.headers.get("Authorization"))
    return f"addr:{limits.client()}" if key_id is None else f"key:{key_id}"


def requires_key(blp: Any, *roles: str) -> Callable[[Any], Any]:
    """A view decorator (below ``blp.route``): the view runs only for a key of one of
    ``roles`` (an admin's key may do anything), and is called with ``principal=``."""
    allowed = " or ".join(sorted({"admin", *roles}))

    def decorator(func: Any) -> Any:
        @functools.wraps(func)
        def view(*args: Any, **kwargs: Any) -> Any:
            who = principal(*roles)  # a request without a usable key: its 401 or 403 first
            http.refuse_unstorable()
            return func(*args, principal=who, **kwargs)

        limits.limited("writes", per=counted_as)(view)
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
            description="too-many-requests: over the write rate limit of the key the "
            "request names (or, without a key this directory has, of this address); "
            "`Retry-After` says when to ask again",
        )(documented)  # fmt: skip
        return blp.alt_response(
            403, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
            headers={"WWW-Authenticate": "WWWAuthenticate"},
            description=f'wrong-role: a valid key, but only an {allowed}\'s key may do this '
            '(`error="insufficient_scope"`)',
        )(documented)  # fmt: skip

    return decorator
