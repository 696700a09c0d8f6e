"""Optimistic concurrency on the write routes: ``If-Match`` (RFC 9110 §13.1.1).

A record that can be changed over the API is read with a strong ETag that is the hash of
its JSON representation (its GET view calls :func:`directory.web.state.etag_from_body`, and
:mod:`directory.web.http` hashes the body, as it does for other answers that change without
the data version). A ``PATCH``, ``PUT`` or ``DELETE`` of it must send that ETag back in
``If-Match``: without one the answer is ``428 Precondition Required``; with one that is no
longer the current representation's, ``412 Precondition Failed`` (someone changed it since).

The write view passes :func:`require_match` a function that renders the record's current
representation exactly as its GET view does, read inside the write's own transaction, so
two writers racing on one record cannot both pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import request

from directory.errors import PreconditionFailedError, PreconditionRequiredError
from directory.web import http
from directory.web.api import ProblemSchema

IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": "The ETag of the record as last read (GET it first). Without it the "
    "answer is 428; with a tag that is no longer the record's, 412. `*` matches any "
    "version.",
    "schema": {"type": "string"},
}


def documented(blp: Any) -> Callable[[Any], Any]:
    """A view decorator (below ``blp.route``) documenting ``If-Match`` and the 412 and 428
    answers of a view that calls :func:`require_match`."""

    def decorator(view: Any) -> Any:
        view = blp.doc(parameters=[IF_MATCH])(view)
        view = blp.alt_response(
            428, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
            description="precondition-required: no If-Match header",
        )(view)  # fmt: skip
        return blp.alt_response(
            412, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
            description="precondition-failed: the record changed since the ETag sent in "
            "If-Match (`current_etag` says the current one)",
        )(view)  # fmt: skip

    return decorator


def entity_tag(body: bytes) -> str:
    """The strong ETag (without quotes) of a representation: what
    :mod:`directory.web.http` sends for answers whose ETag hashes the body."""
    return hashlib.sha1(body).hexdigest()


def _sent_tags() -> tuple[bool, set[str]]:
    """(``*`` sent, the strong tags sent), each without flask-compress's ``:gzip`` suffix
    (a client that read the gzip-compressed answer sends the tag it was given)."""
    sent = request.if_match
    tags = {tag.split(":", 1)[0] for tag in sent.as_set() if tag}  # strong tags only
    return sent.star_tag, tags


def require_match(render: Callable[[], bytes]) -> str:
    """Refuse the write unless ``If-Match`` names the record's current representation
    (428 without the header, 412 when stale); return the current tag. ``If-Match: *``
    passes for any record that exists (the caller has already found it)."""
    if "If-Match" not in request.headers:
        raise PreconditionRequiredError(
            "Send If-Match with the ETag of the record as you last read it (GET it "
            "first): a change made without it could overwrite someone else's."
        )
    star, tags = _sent_tags()
    current = entity_tag(render())
    if not star and current not in tags:
        raise PreconditionFailedError(
            "The record has changed since the version you sent in If-Match: GET it again, "
            "check the change still makes sense, and send the new ETag.",
            current_etag=f'"{current}"',
        )
    return current
