"""What the write routes share: the JSON body, the writer, and the answer with the
record's new ETag (directory/usecases/writes.py does the writing).

A write answers with the record as its GET view shows it, read after the write, and that
representation's strong ETag: the tag the next ``PATCH`` or ``DELETE`` sends in
``If-Match``. :func:`guard` is the precondition the use case calls under the write lock:
``If-Match`` against the record as it stands then (``render`` reads it fresh, on a
connection of its own, never from a cache).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Response, request

from directory.errors import InvalidInputError
from directory.store.repositories.directory import CatalogueQueries
from directory.usecases.keys import Principal
from directory.usecases.writes import Writer
from directory.web import http, preconditions
from directory.web.api import ProblemSchema
from directory.web.state import snapshot, state

PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}
UNSUPPORTED = http.UNSUPPORTED_JSON
INVALID = (
    "invalid-input: the body has invalid values (`errors`, by field: unknown fields, types, "
    "e-mail and web addresses, themes, areas, postcodes, ages, lengths, text that cannot be "
    "stored: a NUL or half of a surrogate pair such as \\ud800)"
)
#: renders a record's representation (the bytes its GET view sends)
Render = Callable[[], bytes]


def body(schema: ma.Schema) -> dict[str, Any]:
    """The request's JSON object, loaded by ``schema`` (415 if it is not JSON, 422 naming
    the fields that are wrong)."""
    http.require_json()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInputError(
            "The body must be a JSON object.", errors={"_schema": ["Not a JSON object."]}
        )
    try:
        loaded: dict[str, Any] = schema.load(data, unknown=ma.RAISE)
    except ma.ValidationError as error:
        messages = (
            error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        )
        raise InvalidInputError(
            "The body has invalid values: "
            + "; ".join(f"{k}: {_text(v)}" for k, v in messages.items()),
            errors=messages,
        ) from None
    return loaded


def _text(messages: Any) -> str:
    if isinstance(messages, list):
        return " ".join(map(str, messages))
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in messages.items())
    return str(messages)


def json_body(schema: type) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a write route taking ``schema`` as JSON."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def writer(principal: Principal) -> Writer:
    app_state = state()
    return Writer(
        db=app_state.db, snap=snapshot(), settings=app_state.settings,
        geography=app_state.geography, principal=principal,
        request=f"{request.method} {request.path}", body=request.get_data(cache=True),
    )  # fmt: skip


def fresh(read: Callable[[CatalogueQueries], dict[str, Any]]) -> Render:
    """A renderer of a record's representation, read on a connection of its own (what has
    been committed, never a kept snapshot), encoded as its GET view encodes it."""

    def render() -> bytes:
        with state().db.engine.connect() as connection:
            return http.dumps(read(CatalogueQueries(connection)))

    return render


def guard(render: Render) -> Callable[[], str]:
    """The precondition of a change: ``If-Match`` must name ``render``'s current tag."""
    return lambda: preconditions.require_match(render)


def answer(render: Render, status: int = 200, location: str | None = None) -> Response:
    """The record as it is now, with its ETag (and where it is, for a 201)."""
    data = render()
    response = Response(data, status=status, mimetype="application/json")
    response.headers["ETag"] = f'"{preconditions.entity_tag(data)}"'
    response.headers["Cache-Control"] = "no-store"
    if location is not None:
        response.headers["Location"] = location
    return response


def documented(blp: Any, problems: dict[int, str]) -> Callable[[Any], Any]:
    """Document a write route's problems (status → the codes it may answer and why)."""

    def decorator(view: Any) -> Any:
        for status, description in problems.items():
            view = blp.alt_response(status, description=description, **PROBLEM)(view)
        return view

    return decorator
