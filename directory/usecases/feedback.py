"""Public feedback on the directory's records, and its moderation. No Flask here.

Anyone may tell the directory something about a service or a funding opportunity ("this
is out of date", "this service has closed", a question): :func:`send` keeps it for moderation and answers with a
receipt, never with the stored record. Nothing sent is ever published; its text is kept as
sent (plain text: no HTML is rendered anywhere) and its contact email is personal data,
shown only to the keys that moderate it.

Officers and admins see and answer all feedback; an editor sees and answers the feedback
about their own organisation's records (another organisation's is a 403). An answer may
carry a *correction* of the service's own fields, which is written as any audited write of
the directory is: under the write lock, as a run naming the key (``actor``), with a change
event (old → new) in ``/changes`` and the service's history, and a new data version.

A feedback's target is ``(kind, id)``; the kinds are :data:`KINDS` (with the table of each
in :data:`directory.store.repositories.participation.TARGETS`): a service or an
opportunity. Feedback about an opportunity is moderated by officers (opportunities are
theirs); it carries no correction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from directory.errors import (
    FeedbackNotFoundError,
    InvalidInputError,
    NotFoundError,
    OpportunityNotFoundError,
    ServiceNotFoundError,
    WrongOrganisationError,
)
from directory.ingest.apply import now, search_text
from directory.ingest.records import SERVICE_STATUSES
from directory.ingest.values import parse_email, parse_url
from directory.store.db import Database
from directory.store.repositories.directory import DirectoryRepository
from directory.store.repositories.participation import TARGETS, ParticipationRepository
from directory.store.words import indexed
from directory.usecases.geography import GeographyCache
from directory.usecases.keys import Principal
from directory.usecases.pagination import envelope
from directory.usecases.writes import write_locked

#: what feedback may be about, and the path of each kind's records
KINDS = tuple(TARGETS)
PATHS = {"service": "services", "opportunity": "opportunities"}
assert set(KINDS) == set(PATHS)
CATEGORIES = ("out_of_date", "closed", "correction", "question", "other")
STATUSES = ("new", "answered", "closed")
#: the most characters of a feedback's text, and of an answer
MAX_TEXT = 4_000
MAX_EMAIL = 320
#: the service fields a correction may change, and the most characters of each
CORRECTABLE = {
    "name": 300, "description": 10_000, "status": 20, "email": 300, "phone": 60,
    "website": 500, "eligibility": 10_000, "referral": 10_000,
}  # fmt: skip
#: the run a correction is recorded as (an import run's source, format and mode)
CORRECTION_SOURCE, CORRECTION_FORMAT = "api", "correction"
_NOT_FOUND: dict[str, type[NotFoundError]] = {
    "service": ServiceNotFoundError, "opportunity": OpportunityNotFoundError,
}  # fmt: skip


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, errors={field: [message]})


def plain_text(value: Any, field: str, *, limit: int, required: bool = True) -> str | None:
    """A text field as kept: stripped, within ``limit`` characters, with no NUL and no
    unpaired surrogate (neither can be stored); blank is None (or a 422 when required)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _invalid(field, f"{field} must not be blank.")
        return None
    if not isinstance(value, str):
        raise _invalid(field, f"{field} must be text.")
    text = value.strip()
    if "\x00" in text:
        raise _invalid(field, f"{field} must not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(field, f"{field} is not valid Unicode text.") from None
    if len(text) > limit:
        raise _invalid(field, f"{field} is {len(text):,} characters; at most {limit:,} are kept.")
    return text


def _email(value: Any) -> str | None:
    text = plain_text(value, "email", limit=MAX_EMAIL, required=False)
    if text is None:
        return None
    try:
        return parse_email(text)
    except ValueError as error:
        raise _invalid("email", str(error)) from None


def _target(repo: ParticipationRepository, kind: str, key: str) -> Any:
    if kind not in TARGETS:
        raise _invalid("kind", f"Feedback is about one of: {', '.join(KINDS)}.")
    row = repo.target(kind, key)
    if row is None:
        raise _NOT_FOUND.get(kind, NotFoundError)(f"No {kind} has the id or ref {key!r}.")
    return row


def _about(kind: str, row: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": row.id,
        "ref": row.ref,
        "name": row.name,
        "url": f"/api/v1/{PATHS[kind]}/{row.id}",
    }


# -- sending ---------------------------------------------------------------------------------


def send(
    db: Database, kind: str, key: str, *, category: Any, text: Any, email: Any = None,
    trap: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Keep a member of the public's feedback about the ``kind`` record ``key`` for
    moderation; the receipt says what was received, never the stored record. A filled
    ``trap`` (the form's honeypot field, which people leave empty) gets the same receipt
    and nothing is stored."""
    if category not in CATEGORIES:
        raise _invalid("category", f"category must be one of {', '.join(CATEGORIES)}.")
    body = plain_text(text, "text", limit=MAX_TEXT)
    address = _email(email)
    at = now()
    with db.session() as session:
        repo = ParticipationRepository(session)
        target = _target(repo, kind, key)
        if not (isinstance(trap, str) and trap.strip()):
            repo.add_feedback({
                "target_kind": kind, "target_id": target.id,
                "organisation_id": target.organisation_id, "category": category,
                "text": body, "email": address, "status": "new",
                "created_at": at, "updated_at": at,
            })  # fmt: skip
    return {
        "received": True,
        "about": _about(kind, target),
        "category": category,
        "received_at": at.isoformat() + "Z",
        "message": "Thank you. What you sent goes to the people who keep this listing up to "
        "date; it is not published. If you left an email address, they may reply.",
    }


# -- moderating ----------------------------------------------------------------------------


def _in_scope(principal: Principal, row: Any) -> None:
    """An editor moderates only the feedback about their own organisation's records."""
    if principal.role == "editor" and row.organisation_id != principal.organisation_id:
        raise WrongOrganisationError(
            f"Feedback #{row.id} is about another organisation's record: this key "
            f"({principal.name}) moderates only its own organisation's."
        )


def _stamp(value: Any) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def _body(row: Any, about: Any) -> dict[str, Any]:
    correction = None
    if row.correction is not None:
        correction = {
            "changes": {k: {"old": v[0], "new": v[1]} for k, v in row.correction.items()},
            "import_run": row.correction_run_id,
        }
    target = (
        _about(row.target_kind, about)
        if about is not None
        else {"kind": row.target_kind, "id": row.target_id, "ref": None, "name": None,
              "url": None}
    )  # fmt: skip
    return {
        "id": row.id,
        "about": target,
        "category": row.category,
        "text": row.text,
        "email": row.email,
        "status": row.status,
        "answer": row.answer,
        "answered_by": row.answered_by,
        "answered_at": _stamp(row.answered_at),
        "correction": correction,
        "created_at": _stamp(row.created_at),
        "updated_at": _stamp(row.updated_at),
    }


def _one(repo: ParticipationRepository, row: Any) -> dict[str, Any]:
    return _body(row, repo.target_names(row.target_kind, [row.target_id]).get(row.target_id))


def _found(repo: ParticipationRepository, feedback_id: int, *, lock: bool = False) -> Any:
    row = repo.feedback(feedback_id, lock=lock)
    if row is None:
        raise FeedbackNotFoundError(f"No feedback has the id {feedback_id}.")
    return row


def list_feedback(
    repo: ParticipationRepository, principal: Principal, *, status: str | None,
    kind: str | None, about: str | None, page: int, per_page: int,
) -> dict[str, Any]:  # fmt: skip
    """Feedback newest first (an editor's: about their organisation's records only),
    by status and by what it is about (``about``: a service's id or ref; ``kind``
    service by default when ``about`` is given)."""
    if status is not None and status not in STATUSES:
        raise _invalid("status", f"status must be one of {', '.join(STATUSES)}.")
    target_id = None
    if about is not None:
        kind = kind or "service"
        target = _target(repo, kind, about)
        if principal.role == "editor" and target.organisation_id != principal.organisation_id:
            # (as GET /feedback/{id} answers for one of its items, not an empty list)
            raise WrongOrganisationError(
                f"The {kind} {about!r} is not one of this key's organisation's records: this "
                f"key ({principal.name}) sees only the feedback about its own organisation's."
            )
        target_id = target.id
    rows, total = repo.feedback_page(
        status=status, kind=kind, target_id=target_id,
        organisation_id=principal.organisation_id if principal.role == "editor" else None,
        offset=(page - 1) * per_page, limit=per_page,
    )  # fmt: skip
    names: dict[tuple[str, int], Any] = {}
    for target_kind in {r.target_kind for r in rows}:
        ids = [r.target_id for r in rows if r.target_kind == target_kind]
        for target_id_, found in repo.target_names(target_kind, ids).items():
            names[target_kind, target_id_] = found
    contents = [_body(r, names.get((r.target_kind, r.target_id))) for r in rows]
    return envelope(contents, total_items=total, page=page, per_page=per_page)


def get_feedback(
    repo: ParticipationRepository, principal: Principal, feedback_id: int
) -> dict[str, Any]:
    row = _found(repo, feedback_id)
    _in_scope(principal, row)
    return _one(repo, row)


def _corrected(values: dict[str, Any]) -> dict[str, Any]:
    """A correction's fields, checked as an import checks them."""
    if not isinstance(values, dict) or not values:
        raise _invalid("correction", "correction names one or more of the service's fields.")
    unknown = sorted(set(values) - set(CORRECTABLE))
    if unknown:
        raise _invalid(
            "correction",
            f"A correction may change {', '.join(CORRECTABLE)}; not {', '.join(unknown)}.",
        )
    out: dict[str, Any] = {}
    for name, value in values.items():
        field = f"correction.{name}"
        text = plain_text(
            value, field, limit=CORRECTABLE[name], required=name in ("name", "status")
        )
        if text is not None and name == "status" and text not in SERVICE_STATUSES:
            raise _invalid(field, f"status must be one of {', '.join(SERVICE_STATUSES)}.")
        if text is not None and name in ("email", "website"):
            try:
                text = parse_email(text) if name == "email" else parse_url(text)
            except ValueError as error:
                raise _invalid(field, str(error)) from None
        out[name] = text
    return out


def moderate(
    db: Database, geography: GeographyCache, principal: Principal, feedback_id: int,
    changes: dict[str, Any], check: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:  # fmt: skip
    """Answer, close or reopen feedback (``status``, ``answer``), and optionally accept a
    ``correction`` of the service it is about. ``check`` is given the feedback as it is now,
    inside the write's transaction (the If-Match test), before anything is written. An
    answer given without a status marks new feedback answered."""
    status = changes.get("status")
    if status is not None and status not in STATUSES:
        raise _invalid("status", f"status must be one of {', '.join(STATUSES)}.")
    answer = plain_text(changes.get("answer"), "answer", limit=MAX_TEXT, required=False)
    correction = _corrected(changes["correction"]) if "correction" in changes else None
    # under the write lock, waiting for one a write holds (it answered 409 at once, "an
    # import is running"), as every write's If-Match is checked (SQLite has no row lock)
    try:
        with write_locked(db), db.session() as session:
            return _moderate(session, principal, feedback_id, status, answer, correction, check)
    finally:
        if correction is not None:
            geography.expire()


def _moderate(
    session: Any, principal: Principal, feedback_id: int, status: str | None,
    answer: str | None, correction: dict[str, Any] | None,
    check: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:  # fmt: skip
    repo = ParticipationRepository(session)
    row = _found(repo, feedback_id, lock=True)
    _in_scope(principal, row)
    check(_one(repo, row))
    at = now()
    values: dict[str, Any] = {"updated_at": at}
    if status is not None:
        values["status"] = status
    if answer is not None:
        values.update(answer=answer, answered_by=principal.name, answered_at=at)
        if status is None and row.status == "new":
            values["status"] = "answered"
    if correction is not None:
        if row.target_kind != "service":
            raise _invalid("correction", "Only feedback about a service carries a correction.")
        applied = _correct_service(session, principal, row, correction, at)
        if applied is not None:
            values["correction"], values["correction_run_id"] = applied
            values.setdefault("answered_by", principal.name)
            values.setdefault("answered_at", at)
            if status is None and row.status == "new":
                values["status"] = "answered"
    repo.update_feedback(feedback_id, values)
    return _one(repo, _found(repo, feedback_id))


def _correct_service(
    session: Any, principal: Principal, feedback: Any, correction: dict[str, Any], at: Any
) -> tuple[dict[str, list[Any]], int] | None:
    """Write the correction to the service as the importer writes a change: a run naming
    the key, the service's columns, a change event (old → new) over the service's areas
    and a data release. None when it changes nothing."""
    repo = ParticipationRepository(session)
    service = repo.service_row(feedback.target_id)
    if service is None:
        raise ServiceNotFoundError(f"The service feedback #{feedback.id} is about is gone.")
    diff = {
        name: [getattr(service, name), value]
        for name, value in correction.items()
        if getattr(service, name) != value
    }
    if not diff:
        return None
    directory = DirectoryRepository(session)
    checksum = hashlib.sha256(json.dumps(diff, sort_keys=True).encode()).hexdigest()
    run_id = directory.add_run({
        "source": CORRECTION_SOURCE, "format": CORRECTION_FORMAT,
        "location": f"/api/v1/feedback/{feedback.id}", "mode": "incremental",
        "checksum": checksum, "status": "running", "started_at": at, "counts": {},
        "problems": [], "actor": principal.name,
    })  # fmt: skip
    name = correction.get("name", service.name)
    description = correction.get("description", service.description)
    repo.update_service(
        service.id,
        {
            **correction,
            "updated_at": at,
            "search_text": search_text(
                name, service.organisation_name, description, repo.service_themes(service.id)
            ),
            "search_name": indexed(name),
        },
    )
    directory.add_events([{
        "import_run_id": run_id, "at": at, "entity": "service", "entity_id": service.id,
        "entity_ref": service.ref, "action": "updated", "changes": diff,
        "summary": f"Service '{name}' changed: {', '.join(sorted(diff))} (feedback "
        f"#{feedback.id}, by {principal.name})"[:500],
        "areas": repo.service_areas(service.id),
    }])  # fmt: skip
    counts = {"services": {"created": 0, "updated": 1, "unchanged": 0}}
    directory.add_data_release(
        label=f"correction #{run_id} (feedback #{feedback.id})", checksum=checksum,
        details={"source": CORRECTION_SOURCE, "counts": counts}, at=at,
    )  # fmt: skip
    directory.finish_run(run_id, {
        "status": "succeeded", "finished_at": now(), "counts": counts, "error_count": 0,
        "warning_count": 0, "problems": [],
    })  # fmt: skip
    return diff, run_id
