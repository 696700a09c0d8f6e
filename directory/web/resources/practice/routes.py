"""Practice notes ("share what works"): read by anyone; written by an organisation's
editors about its own services, or by officers about any."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.store.repositories.participation import ParticipationRepository
from directory.usecases import practice
from directory.usecases.keys import Principal
from directory.web import http, preconditions
from directory.web.api import Blueprint, ProblemSchema
from directory.web.auth import requires_key
from directory.web.resources.practice.schemas import (
    PracticeListArgsSchema,
    PracticeNoteChangeSchema,
    PracticeNoteNewSchema,
    PracticeNoteSchema,
    PracticePageSchema,
)
from directory.web.state import connection, etag_from_body, paged_response, snapshot, state

blp = Blueprint("practice", __name__, url_prefix="/api/v1", description="Practice notes")
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}
WRONG_ORGANISATION = (
    "wrong-role; wrong-organisation: an editor's key, and the service is another organisation's"
)


@blp.route("/practice")
@blp.arguments(PracticeListArgsSchema, location="query")
@blp.response(200, PracticePageSchema)
@blp.alt_response(404, description="area-not-found, area-ambiguous, service-not-found", **PROBLEM)
def list_practice(args: dict[str, Any]) -> Response:
    """Published practice notes, newest first: by theme, area (the note's service's, as
    services match an area) and service."""
    etag_from_body()  # notes are written without a new data version
    body = practice.list_notes(
        ParticipationRepository(connection()), snapshot(), theme=args.get("theme"),
        area=args.get("area"), service=args.get("service"), page=args["page"],
        per_page=args["per_page"],
    )  # fmt: skip
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/practice/<int:note_id>")
@blp.response(200, PracticeNoteSchema)
@blp.alt_response(404, description="practice-note-not-found", **PROBLEM)
def get_practice(note_id: int) -> Response:
    """One published practice note. Its ETag is what a PATCH or DELETE sends in If-Match."""
    etag_from_body()
    return http.json_response(practice.get_note(ParticipationRepository(connection()), note_id))


@blp.route("/practice", methods=["POST"])
@requires_key(blp, "officer", "editor")
@blp.arguments(PracticeNoteNewSchema)
@blp.response(201, PracticeNoteSchema, description="Published: the note, as /practice/{id}")
@blp.alt_response(403, description=WRONG_ORGANISATION, **PROBLEM)
@blp.alt_response(404, description="service-not-found", **PROBLEM)
@blp.alt_response(422, description="invalid-input (`errors`)", **PROBLEM)
def create_practice(values: dict[str, Any], principal: Principal) -> Response:
    """Publish what worked at a service (an editor: their organisation's services; an
    officer or admin: any)."""
    body = practice.create_note(state().db, principal, values)
    response = http.json_response(body, status=201)
    response.headers["Location"] = body["url"]
    response.headers["ETag"] = f'"{preconditions.entity_tag(response.get_data())}"'
    return response


@blp.route("/practice/<int:note_id>", methods=["PATCH"])
@requires_key(blp, "officer", "editor")
@preconditions.documented(blp)
@blp.arguments(PracticeNoteChangeSchema)
@blp.response(200, PracticeNoteSchema, description="The note as it now is (its new ETag)")
@blp.alt_response(403, description=WRONG_ORGANISATION, **PROBLEM)
@blp.alt_response(404, description="practice-note-not-found", **PROBLEM)
@blp.alt_response(422, description="invalid-input (`errors`)", **PROBLEM)
def update_practice(values: dict[str, Any], note_id: int, principal: Principal) -> Response:
    """Change a practice note's members sent (`If-Match`: its ETag)."""
    body = practice.update_note(state().db, principal, note_id, values, check=_match)
    response = http.json_response(body)
    response.headers["ETag"] = f'"{preconditions.entity_tag(response.get_data())}"'
    return response


@blp.route("/practice/<int:note_id>", methods=["DELETE"])
@requires_key(blp, "officer", "editor")
@preconditions.documented(blp)
@blp.response(204, description="Withdrawn: no longer shown")
@blp.alt_response(403, description=WRONG_ORGANISATION, **PROBLEM)
@blp.alt_response(404, description="practice-note-not-found", **PROBLEM)
def withdraw_practice(note_id: int, principal: Principal) -> Response:
    """Withdraw a practice note (`If-Match`: its ETag): kept, no longer shown."""
    practice.withdraw_note(state().db, principal, note_id, check=_match)
    return Response(status=204)


def _match(current: dict[str, Any]) -> None:
    preconditions.require_match(lambda: http.dumps(current))
