"""Merging a duplicated organisation into the one to keep (``directory organisations
merge``, ``POST /api/v1/organisations/{id}/merge``): all or nothing, under the write lock.

Everything that names the duplicate moves to the organisation kept: its services (as
runner), grants (as funder or recipient), funding opportunities (as funder), API keys (an
editor's key for the duplicate writes for the one kept), feedback and practice notes,
programmes naming it as funder, and the aliases of organisations merged into it earlier.
The organisation kept keeps its own fields; those it lacks (charity and company numbers,
website, email, description, type, size band) are filled from the duplicate's. The
duplicate is then deleted, and its ref, id and name kept as an alias
(``organisation_alias``) of the one kept: its address redirects there, filters naming it
answer for it, and the next import of a file that still lists it (by its ref or its name)
files its rows under the one kept.

It is recorded as an import run of source ``merge`` (``/imports`` shows it), with change
events: the duplicate ``withdrawn`` (``merged_into``), the organisation kept ``updated``
(the fields filled, ``merged_from``), and each service, grant and opportunity moved
``updated`` with its organisation old → new; and a new data release, so every process's
caches and ETags move on. A dry run checks and counts the same way, then rolls back.
No Flask here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from directory.errors import OrganisationMergedError, SameOrganisationError
from directory.ingest.apply import elapsed, now, search_text
from directory.store.db import Database
from directory.store.repositories.directory import (
    CatalogueQueries,
    DirectoryRepository,
    service_areas,
)
from directory.store.repositories.opportunities import OpportunityRepository
from directory.store.repositories.organisations import MergeRepository
from directory.usecases.catalogue import unknown_organisation
from directory.usecases.writes import write_locked

#: the source a merge's import run is recorded under
SOURCE = "merge"
#: the fields the organisation kept takes from the duplicate when it has none
FILLED = (
    "charity_number", "company_number", "website", "email", "description", "type", "size_band",
)  # fmt: skip
#: the refs a report names of each kind (its counts stay whole)
NAMED = 1_000


@dataclass
class MergeReport:
    status: str  # merged | dry-run
    run_id: int | None
    duplicate: dict[str, Any]
    into: dict[str, Any]
    #: how many of each kind of record moved
    moved: dict[str, int]
    #: the refs (keys: "#id name") of what moved, the first NAMED of each kind
    refs: dict[str, list[str]]
    #: the fields of the organisation kept filled from the duplicate's: field → value
    filled: dict[str, Any]
    events: int = 0
    seconds: float = 0.0
    at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "run_id": self.run_id,
            "duplicate": self.duplicate,
            "into": self.into,
            "moved": self.moved,
            "refs": self.refs,
            "filled": self.filled,
            "alias": {
                "ref": self.duplicate["ref"],
                "id": self.duplicate["id"],
                "organisation": self.into["ref"],
            },
            "change_events": self.events,
            "seconds": round(self.seconds, 2),
        }


class _DryRun(Exception):
    """Roll back a dry run."""


def _described(row: Any) -> dict[str, Any]:
    return {"id": row.id, "ref": row.ref, "name": row.name}


def _resolve(repo: MergeRepository, key: str, *, keep: bool) -> Any:
    """The live organisation ``key`` names (id or ref), or the reason it names none: 404
    for none at all, 409 organisation-merged for one merged away earlier."""
    q = CatalogueQueries(repo.session.connection())
    org_id = q.organisation_id(key, aliases=False)
    if org_id is not None:
        return repo.organisation(org_id)
    alias = repo.alias(key)
    if alias is None:
        raise unknown_organisation(q, key)
    when = alias.merged_at.date().isoformat()
    then = (
        f"merge into '{alias.organisation_ref}' instead"
        if keep
        else "there is nothing left of it to merge"
    )
    raise OrganisationMergedError(
        f"Organisation {key!r} ('{alias.ref}') was merged into '{alias.organisation_ref}' "
        f"({alias.organisation_name}) on {when}: {then}.",
        merged_into={"ref": alias.organisation_ref, "name": alias.organisation_name},
    )


def merge_organisations(
    db: Database, duplicate: str, into: str, *, dry_run: bool = False,
    actor: str | None = None, location: str = "directory organisations merge",
    precondition: Callable[[], Any] | None = None,
) -> MergeReport:  # fmt: skip
    """Merge organisation ``duplicate`` into ``into`` (each by id or ref) under the write
    lock, in one transaction (see the module's docstring). ``actor``: the API key's name
    (None for the command); ``location``: what asked (the command, the request);
    ``precondition``: called under the lock first (the web layer's If-Match)."""
    clock = datetime.now()
    with write_locked(db):
        if precondition is not None:
            precondition()
        try:
            with db.session() as session:
                report = _merge(session, duplicate, into, dry_run, actor, location)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
    report.seconds = elapsed(clock)
    return report


def _merge(
    session: Any, duplicate: str, into: str, dry_run: bool, actor: str | None, location: str
) -> MergeReport:
    repo = MergeRepository(session)
    # the organisation kept first: "X into Y", where Y is X's own alias, is the same one
    dup = _resolve(repo, duplicate, keep=False)
    try:
        keep = _resolve(repo, into, keep=True)
    except OrganisationMergedError:
        alias = repo.alias(into)
        if alias is not None and alias.organisation_id == dup.id:
            raise SameOrganisationError(
                f"{into!r} is organisation '{dup.ref}' ({dup.name}) already: "
                f"'{alias.ref}' was merged into it on {alias.merged_at.date().isoformat()}."
            ) from None
        raise
    if dup.id == keep.id:
        raise SameOrganisationError(
            f"{duplicate!r} and {into!r} are the same organisation, '{dup.ref}' ({dup.name}): "
            "name the duplicate and the organisation to keep."
        )
    at = now()
    directory = DirectoryRepository(session)
    service_ids = repo.services_of(dup.id)
    services = directory.service_states(service_ids)
    grants = repo.grants_naming(dup.id)
    grant_states = directory.grant_states_of([g.id for g in grants])
    opportunities = repo.opportunities_of(dup.id)
    keys = repo.keys_of(dup.id)
    programmes = repo.programmes_of(dup.ref)
    aliases = repo.aliases_of(dup.id)
    feedback, notes = repo.feedback_and_notes(dup.id)
    filled = {f: getattr(dup, f) for f in FILLED if getattr(keep, f) is None and getattr(dup, f)}
    report = MergeReport(
        status="dry-run" if dry_run else "merged",
        run_id=None,
        duplicate=_described(dup),
        into=_described(keep),
        moved={
            "services": len(service_ids),
            "grants_made": sum(1 for g in grants if g.funder_id == dup.id),
            "grants_received": sum(1 for g in grants if g.recipient_id == dup.id),
            "opportunities": len(opportunities),
            "api_keys": len(keys),
            "feedback": feedback,
            "practice_notes": notes,
            "programmes": len(programmes),
            "aliases": len(aliases),
        },
        refs={
            "services": sorted(services)[:NAMED],
            "grants": [g.ref for g in grants][:NAMED],
            "opportunities": [o.ref for o in opportunities][:NAMED],
            "api_keys": [f"#{k.id} {k.name}" for k in keys][:NAMED],
            "programmes": programmes[:NAMED],
            "aliases": aliases[:NAMED],
        },
        filled=filled,
        at=at,
    )
    run_id = None if dry_run else directory.add_run(_run_row(at, location, actor))
    events: list[dict[str, Any]] = []

    def event(
        entity: str, entity_id: int, ref: str, action: str, summary: str,
        changes: dict[str, Any], areas: set[str],
    ) -> None:  # fmt: skip
        events.append({
            "import_run_id": run_id, "at": at, "entity": entity, "entity_id": entity_id,
            "entity_ref": ref[:160], "action": action, "changes": changes,
            "summary": summary[:500], "areas": areas, "actor": actor,
        })  # fmt: skip

    merged = f"merged into '{keep.name}' ({keep.ref})"
    event(
        "organisation", dup.id, dup.ref, "withdrawn",
        f"Organisation '{dup.name}' withdrawn: {merged}",
        {"merged_into": [None, keep.ref]}, set(),
    )  # fmt: skip
    event(
        "organisation", keep.id, keep.ref, "updated",
        f"Organisation '{keep.name}' changed: '{dup.name}' ({dup.ref}) merged into it"
        + (f", {', '.join(sorted(filled))} filled from it" if filled else ""),
        {"merged_from": [None, dup.ref], **{f: [None, v] for f, v in filled.items()}}, set(),
    )  # fmt: skip
    moved = {"organisation": [dup.ref, keep.ref]}
    for ref, state in sorted(services.items(), key=lambda item: item[1]["id"]):
        event(
            "service", state["id"], ref, "updated",
            f"Service '{state['name']}' changed: organisation ({merged})", moved,
            service_areas(state),
        )  # fmt: skip
    for ref, state in sorted(grant_states.items(), key=lambda item: item[1]["id"]):
        roles = {r: [dup.ref, keep.ref] for r in ("funder", "recipient") if state[r] == dup.ref}
        event(
            "grant", state["id"], ref, "updated",
            f"Grant '{state['title'] or ref}' changed: {', '.join(sorted(roles))} ({merged})",
            roles, set(state["areas"]),
        )  # fmt: skip
    opportunity_areas = OpportunityRepository(session).areas_of([o.id for o in opportunities])
    for o in opportunities:
        event(
            "opportunity", o.id, o.ref, "updated",
            f"Opportunity '{o.title}' changed: funder ({merged})",
            {"funder": [dup.ref, keep.ref]}, set(opportunity_areas.get(o.id, [])),
        )  # fmt: skip

    repo.move(dup.id, keep.id, dup.ref, keep.ref, at)
    repo.fill(keep.id, filled, at)
    if services:  # a service's words hold its organisation's name
        repo.set_search_text([
            {"id": s["id"], "text": search_text(s["name"], keep.name, s["description"], s["themes"])}
            for s in services.values()
        ])  # fmt: skip
    repo.delete_organisation(dup.id)
    repo.add_alias({
        "ref": dup.ref, "old_id": dup.id, "name": dup.name, "organisation_id": keep.id,
        "merged_at": at, "actor": actor, "import_run_id": run_id,
    })  # fmt: skip
    report.events = len(events)
    if dry_run:
        return report
    directory.add_events(events)
    counts = {"organisations": {"merged": 1}, **{k: {"moved": n} for k, n in report.moved.items()}}
    directory.add_data_release(
        label=f"import #{run_id} ({SOURCE}: {dup.ref} into {keep.ref})",
        checksum=f"merge-{dup.id}-{keep.id}",
        details={"source": SOURCE, "counts": counts},
        at=at,
    )
    directory.finish_run(run_id, {  # type: ignore[arg-type]
        "status": "succeeded", "finished_at": now(), "counts": counts,
        "error_count": 0, "warning_count": 0, "problems": [],
        "records": {"organisations": {"merged": [
            {"ref": dup.ref, "name": dup.name, "into": keep.ref}
        ]}},
    })  # fmt: skip
    report.run_id = run_id
    return report


def _run_row(at: datetime, location: str, actor: str | None) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "format": SOURCE,
        "location": location[:1000],
        "mode": "incremental",
        "checksum": None,
        "status": "running",
        "started_at": at,
        "counts": {},
        "problems": [],
        "actor": actor,
    }
