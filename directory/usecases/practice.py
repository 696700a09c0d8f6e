"""Practice notes ("share what works"): a funded service's editor, or an officer, publishes
what worked (title, summary, an evidence link, themes, the service's outcomes it rests on).
Anyone reads them, by theme, area and service. No Flask here.

An editor writes notes about their own organisation's services only (another's is a 403);
officers and admins about any. A note is published when made; ``DELETE`` withdraws it
(kept, no longer shown). A note's area is its service's: it matches ``area=`` as the service
matches ``/api/v1/services?area=`` (its coverage, an area above or inside it, or a delivery
site inside it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from directory.errors import (
    InvalidInputError,
    PracticeNoteNotFoundError,
    ServiceNotFoundError,
    WrongOrganisationError,
)
from directory.ingest.apply import now
from directory.ingest.values import parse_url
from directory.store.db import Database
from directory.store.repositories.participation import ParticipationRepository
from directory.usecases.catalogue import iso
from directory.usecases.feedback import plain_text
from directory.usecases.geography import GeographySnapshot, resolve_area
from directory.usecases.keys import Principal
from directory.usecases.pagination import envelope
from directory.usecases.search import area_match
from directory.usecases.vocabulary import check_themes
from directory.usecases.writes import write_locked

MAX_TITLE = 200
MAX_SUMMARY = 4_000
MAX_URL = 1_000


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, errors={field: [message]})


def _stamp(value: Any) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def _body(row: Any, themes: list[str], outcomes: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "summary": row.summary,
        "evidence_url": row.evidence_url,
        "themes": themes,
        "outcomes": [
            {
                "id": o.id,
                "metric": o.metric,
                "period": {"start": iso(o.period_start), "end": iso(o.period_end)},
                "value": o.value,
                "target": o.target,
                "unit": o.unit,
            }
            for o in outcomes
        ],  # fmt: skip
        "service": {
            "id": row.service_id,
            "ref": row.service_ref,
            "name": row.service_name,
            "url": f"/api/v1/services/{row.service_id}",
        },
        "organisation": {
            "id": row.organisation_id,
            "ref": row.organisation_ref,
            "name": row.organisation_name,
        },
        "author": row.author,
        "published_at": _stamp(row.published_at),
        "updated_at": _stamp(row.updated_at),
        "url": f"/api/v1/practice/{row.id}",
    }


def _one(repo: ParticipationRepository, row: Any) -> dict[str, Any]:
    return _body(row, repo.note_themes([row.id])[row.id], repo.note_outcomes([row.id])[row.id])


# -- reading -----------------------------------------------------------------------------------


def list_notes(
    repo: ParticipationRepository, snap: GeographySnapshot, *, theme: str | None,
    area: str | None, service: str | None, page: int, per_page: int,
) -> dict[str, Any]:  # fmt: skip
    """Published notes, newest first: by theme, area (code or name; the note's service's
    area, as services match it) and service (id or ref)."""
    if theme is not None:
        check_themes([theme])
    match = area_match(snap, resolve_area(snap, area)) if area is not None else None
    service_id = None
    if service is not None:
        found = repo.target("service", service)
        if found is None:
            raise ServiceNotFoundError(f"No service has the id or ref {service!r}.")
        service_id = found.id
    rows, total = repo.notes_page(
        theme=theme, area=match, service_id=service_id, offset=(page - 1) * per_page,
        limit=per_page,
    )  # fmt: skip
    ids = [r.id for r in rows]
    themes, outcomes = repo.note_themes(ids), repo.note_outcomes(ids)
    contents = [_body(r, themes[r.id], outcomes[r.id]) for r in rows]
    return envelope(contents, total_items=total, page=page, per_page=per_page)


def get_note(repo: ParticipationRepository, note_id: int) -> dict[str, Any]:
    row = repo.note(note_id)
    if row is None:
        raise PracticeNoteNotFoundError(f"No published practice note has the id {note_id}.")
    return _one(repo, row)


# -- writing -----------------------------------------------------------------------------------


def _may_write(principal: Principal, organisation_id: int, what: str) -> None:
    if principal.role == "editor" and organisation_id != principal.organisation_id:
        raise WrongOrganisationError(
            f"{what} belongs to another organisation: this key ({principal.name}) writes "
            "practice notes only for its own organisation's services."
        )


def _fields(
    repo: ParticipationRepository, service_id: int, values: dict[str, Any]
) -> dict[str, Any]:
    """The note's columns and links from what was sent (only the members sent)."""
    out: dict[str, Any] = {}
    if "title" in values:
        out["title"] = plain_text(values["title"], "title", limit=MAX_TITLE)
    if "summary" in values:
        out["summary"] = plain_text(values["summary"], "summary", limit=MAX_SUMMARY)
    if "evidence_url" in values:
        text = plain_text(values["evidence_url"], "evidence_url", limit=MAX_URL, required=False)
        if text is not None:
            try:
                text = parse_url(text)
            except ValueError as error:
                raise _invalid("evidence_url", str(error)) from None
        out["evidence_url"] = text
    if "themes" in values:
        check_themes(values["themes"], "themes")
        out["themes"] = list(dict.fromkeys(values["themes"]))
    if "outcomes" in values:
        held = repo.outcome_ids_of(service_id)
        foreign = [o for o in values["outcomes"] if o not in held]
        if foreign:
            raise _invalid(
                "outcomes",
                f"Outcomes {', '.join(map(str, foreign))} are not this service's (its outcomes "
                "are listed at /api/v1/services/{key}/outcomes).",
            )
        out["outcomes"] = list(dict.fromkeys(values["outcomes"]))
    return out


def create_note(db: Database, principal: Principal, values: dict[str, Any]) -> dict[str, Any]:
    """Publish a note about a service (``service``: its id or ref)."""
    at = now()
    with db.session() as session:
        repo = ParticipationRepository(session)
        service = repo.target("service", str(values["service"]))
        if service is None or service.withdrawn_at is not None:
            raise ServiceNotFoundError(
                f"No listed service has the id or ref {values['service']!r}."
            )
        _may_write(principal, service.organisation_id, f"Service '{service.ref}'")
        fields = _fields(repo, service.id, values)
        themes, outcomes = fields.pop("themes", []), fields.pop("outcomes", [])
        note_id = repo.add_note({
            **fields, "service_id": service.id, "organisation_id": service.organisation_id,
            "author": principal.name, "published_at": at, "created_at": at, "updated_at": at,
        })  # fmt: skip
        repo.set_note_links(note_id, themes=themes, outcomes=outcomes)
        return _one(repo, repo.note(note_id))


def _held(repo: ParticipationRepository, principal: Principal, note_id: int) -> Any:
    row = repo.note(note_id)
    if row is None:
        raise PracticeNoteNotFoundError(f"No published practice note has the id {note_id}.")
    _may_write(principal, row.organisation_id, f"Practice note #{note_id}")
    return row


def update_note(
    db: Database, principal: Principal, note_id: int, values: dict[str, Any],
    check: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:  # fmt: skip
    """Change a note's members sent; ``check`` (If-Match) sees it as it is first."""
    with write_locked(db), db.session() as session:
        repo = ParticipationRepository(session)
        row = _held(repo, principal, note_id)
        check(_one(repo, row))
        fields = _fields(repo, row.service_id, values)
        themes, outcomes = fields.pop("themes", None), fields.pop("outcomes", None)
        repo.update_note(note_id, {**fields, "updated_at": now()})
        repo.set_note_links(note_id, themes=themes, outcomes=outcomes)
        return _one(repo, repo.note(note_id))


def withdraw_note(
    db: Database, principal: Principal, note_id: int, check: Callable[[dict[str, Any]], None]
) -> None:
    """Withdraw a note: kept, no longer shown."""
    with write_locked(db), db.session() as session:
        repo = ParticipationRepository(session)
        row = _held(repo, principal, note_id)
        check(_one(repo, row))
        at = now()
        repo.update_note(note_id, {"withdrawn_at": at, "updated_at": at})
