"""Feedback: the public sends it about a service (no key, rate-limited, a honeypot field);
officers and an organisation's editors read, answer and close it (a key: it holds personal
data), and may accept a correction of the service with it."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from werkzeug.exceptions import UnsupportedMediaType

from directory.errors import InvalidInputError
from directory.store.repositories.participation import ParticipationRepository
from directory.usecases import feedback
from directory.usecases.keys import Principal
from directory.web import http, limits, preconditions
from directory.web.api import Blueprint, ProblemSchema
from directory.web.auth import RATE_LIMITED_HEADERS, requires_key
from directory.web.resources.feedback.schemas import (
    TRAP,
    FeedbackFormSchema,
    FeedbackListArgsSchema,
    FeedbackPageSchema,
    FeedbackPatchSchema,
    FeedbackReceiptSchema,
    FeedbackSchema,
)
from directory.web.state import connection, etag_from_body, paged_response, state

blp = Blueprint("feedback", __name__, url_prefix="/api/v1", description="Feedback")
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}
#: the largest body the public route reads (a 413 problem above it): the text's 4,000
#: characters even when each is escaped (\uXXXX\uXXXX) or percent-encoded (12 bytes), and
#: the other fields
MAX_BODY = 64 * 1024
#: moderation answers hold personal data: kept by no shared cache
PRIVATE = "private, no-store"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _public_feedback(kind: str, path: str) -> Any:
    """The decorators of a public feedback route about ``kind`` records at ``path``."""

    def decorator(view: Any) -> Any:
        for apply in reversed((
            blp.route(path, methods=["POST"]),
            limits.limited("feedback"),
            blp.doc(
                security=[],
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {"schema": FeedbackFormSchema},
                        "application/x-www-form-urlencoded": {"schema": FeedbackFormSchema},
                    },
                },
            ),
            blp.response(
                202, FeedbackReceiptSchema,
                description="Received for moderation (a receipt; the feedback itself is never "
                "published)",
            ),
            blp.alt_response(404, description=f"{kind}-not-found", **PROBLEM),
            blp.alt_response(
                413, description=f"payload-too-large: a body over {MAX_BODY // 1024} KB",
                **PROBLEM,
            ),
            blp.alt_response(
                415, description="unsupported-media-type: not JSON or a form", **PROBLEM
            ),
            blp.alt_response(
                422, description="invalid-input: a field is missing or invalid (`errors`)",
                **PROBLEM,
            ),
            blp.alt_response(
                429, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
                headers=RATE_LIMITED_HEADERS,
                description="too-many-requests: over the feedback rate limit of this address "
                "(DIRECTORY_RATE_LIMIT_FEEDBACK, default 5/minute;30/hour;100/day); "
                "`Retry-After` says when to send again",
            ),
        )):  # fmt: skip
            view = apply(view)
        return view

    return decorator


def _send(kind: str, key: str) -> Response:
    form = _form()
    body = feedback.send(
        state().db, kind, key, category=form["category"], text=form["text"],
        email=form.get("email"), trap=form.get(TRAP),
    )  # fmt: skip
    return http.json_response(body, status=202)


@_public_feedback("service", "/services/<service_ref:key>/feedback")
def send_feedback(key: str) -> Response:
    """Tell the people who keep a service's listing something (no key needed): it is out
    of date, it has closed, a question. Sent as JSON or as a form; kept for moderation,
    never published, its text never rendered as HTML. The answer is a receipt. Rate-limited
    per address."""
    return _send("service", key)


@_public_feedback("opportunity", "/opportunities/<ref:key>/feedback")
def send_opportunity_feedback(key: str) -> Response:
    """Tell the officers who run a funding opportunity something (no key needed): a
    question, a broken link, a date that looks wrong. As feedback on a service: kept for
    moderation (by officers), never published; a receipt. Rate-limited per address."""
    return _send("opportunity", key)


def _form() -> dict[str, Any]:
    """The body, JSON or form-encoded, read under MAX_BODY (413 above) and validated."""
    request.max_content_length = MAX_BODY
    if request.mimetype == "application/json":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidInputError(
                "Send a JSON object: category, text and optionally email.",
                errors={"json": ["Not a JSON object."]},
            )
    elif request.mimetype in FORM_TYPES:
        data = request.form.to_dict()
        http.refuse_unstorable(data)  # (as a JSON body's text is, before it is read)
    else:
        raise UnsupportedMediaType(
            "Send the feedback as JSON (application/json) or as a form "
            "(application/x-www-form-urlencoded)."
        )
    try:
        return FeedbackFormSchema().load(data, unknown=ma.RAISE)  # type: ignore[no-any-return]
    except ma.ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"json": error.messages}
        raise InvalidInputError(
            "The feedback is invalid: " + "; ".join(
                f"{k}: {' '.join(map(str, v))}" for k, v in messages.items()
            ),
            errors=messages,
        ) from None  # fmt: skip


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    return response


@blp.route("/feedback")
@requires_key(blp, "officer", "editor")
@blp.arguments(FeedbackListArgsSchema, location="query")
@blp.response(200, FeedbackPageSchema)
@blp.alt_response(404, description="service-not-found (the `service` filter)", **PROBLEM)
def list_feedback(args: dict[str, Any], principal: Principal) -> Response:
    """Feedback, newest first, for moderation (officer or admin: all; an editor: about their
    organisation's services only). Holds personal data (contact emails): never cached by
    a shared cache."""
    etag_from_body()
    body = feedback.list_feedback(
        ParticipationRepository(connection()), principal, status=args.get("status"),
        kind="opportunity" if "opportunity" in args else None,
        about=args.get("opportunity", args.get("service")),
        page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
    return _private(paged_response(body, args["page"], args["per_page"]))


@blp.route("/feedback/<int:feedback_id>")
@requires_key(blp, "officer", "editor")
@blp.response(200, FeedbackSchema)
@blp.alt_response(
    403, description="wrong-role; wrong-organisation: an editor's key, and the feedback is "
    "about another organisation's record", **PROBLEM,
)  # fmt: skip
@blp.alt_response(404, description="feedback-not-found", **PROBLEM)
def get_feedback(feedback_id: int, principal: Principal) -> Response:
    """One feedback (officer or admin; an editor: about their organisation's services). Its
    ETag is what a PATCH sends back in If-Match."""
    etag_from_body()
    body = feedback.get_feedback(ParticipationRepository(connection()), principal, feedback_id)
    return _private(http.json_response(body))


@blp.route("/feedback/<int:feedback_id>", methods=["PATCH"])
@requires_key(blp, "officer", "editor")
@preconditions.documented(blp)
@blp.arguments(FeedbackPatchSchema)
@blp.response(200, FeedbackSchema, description="The feedback as it now is (its new ETag)")
@blp.alt_response(
    403, description="wrong-role; wrong-organisation: an editor's key, and the feedback is "
    "about another organisation's record", **PROBLEM,
)  # fmt: skip
@blp.alt_response(404, description="feedback-not-found", **PROBLEM)
@blp.alt_response(
    409, description="write-locked: an import or refresh is running (a correction waits "
    "for it)", **PROBLEM,
)  # fmt: skip
@blp.alt_response(422, description="invalid-input (`errors`)", **PROBLEM)
def moderate_feedback(changes: dict[str, Any], feedback_id: int, principal: Principal) -> Response:
    """Answer, close or reopen feedback (`If-Match`: its ETag), and optionally accept a
    `correction` of the service it is about: written as an audited write (a run naming
    the key, a change event in /changes and the service's history)."""
    app_state = state()
    body = feedback.moderate(
        app_state.db, app_state.geography, principal, feedback_id, changes,
        check=lambda current: _match(current),
    )  # fmt: skip
    response = http.json_response(body)
    response.headers["ETag"] = f'"{preconditions.entity_tag(response.get_data())}"'
    return _private(response)


def _match(current: dict[str, Any]) -> None:
    preconditions.require_match(lambda: http.dumps(current))
