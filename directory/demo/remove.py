"""Taking the demo directory out (``directory demo remove``): all or nothing, recorded.

What goes is what ``directory demo load`` put in and nothing real has taken over since:

- the services and grants the demo sources (``DEMO_SOURCES``) own, with their themes,
  coverage, delivery sites, grant links and beneficiary areas. A service or grant a real
  import has listed since is owned by that import's source and stays;
- the outcomes of those services, and the outcomes and patch contacts a demo run created
  that no other run has changed since (one a real import has changed is its now);
- the organisations a demo run created that no other run has changed since and that no
  service or grant staying in the directory names (as runner, funder or recipient): an
  organisation a real import refers to stays;
- the programmes no grant names any more, other than those of
  ``directory/data/programmes.csv`` (the taxonomy every import keeps).

The recorded crime counts and populations ``demo load`` also imports stay: they are the
official figures (Met Police, ONS) under the same sources ``directory geodata refresh`` and
``directory import`` use, not demo records, and the funding-against-need answers need them.

It is recorded as an import run of source ``demo`` (so ``/imports`` shows it), with a
``withdrawn`` change event for every record taken out, as an import's withdrawal is recorded
(so ``/changes`` and its Atom feed show it, by area), and a new data release, so every
process's caches (the facts and the patch index, kept per data version) are rebuilt.
Records taken out are deleted, not withdrawn: nothing of the demo is left to list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from directory.demo import DEMO_SOURCES
from directory.ingest.apply import elapsed, now
from directory.ingest.context import programmes as known_programmes
from directory.progress import QUIET, Progress
from directory.store.db import Database
from directory.store.models import (
    Grant,
    GrantArea,
    GrantService,
    Location,
    Organisation,
    OrganisationAlias,
    Outcome,
    PatchContact,
    Programme,
    Service,
    ServiceArea,
    ServiceTheme,
)
from directory.store.repositories.directory import DirectoryRepository
from directory.store.repositories.opportunities import OpportunityRepository

#: the source the removal's import run is recorded under
SOURCE = "demo"
#: what the report counts, in order
ENTITIES = (
    "services", "grants", "outcomes", "contacts", "opportunities", "organisations", "programmes",
)  # fmt: skip


@dataclass
class RemovalReport:
    status: str  # removed | nothing | dry-run
    run_id: int | None
    counts: dict[str, int]
    kept: dict[str, int] = field(default_factory=dict)
    events: int = 0
    seconds: float = 0.0

    @property
    def removed(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "run_id": self.run_id,
            "removed": self.counts,
            "kept": self.kept,
            "change_events": self.events,
            "seconds": round(self.seconds, 2),
        }


class _DryRun(Exception):
    """Roll back a dry run."""


def remove_demo(
    db: Database, *, dry_run: bool = False, progress: Progress = QUIET
) -> RemovalReport:
    """Take the demo directory out in one transaction (see the module's docstring): a
    failure anywhere leaves everything as it was. With ``dry_run``, count and roll back."""
    started, clock = now(), datetime.now()
    report = RemovalReport("nothing", None, dict.fromkeys(ENTITIES, 0))
    try:
        with db.session() as session:
            repo = DirectoryRepository(session)
            _remove(repo, report, started, dry_run, progress)
            if dry_run:
                raise _DryRun
    except _DryRun:
        if report.status == "removed":
            report.status = "dry-run"
    report.seconds = elapsed(clock)
    return report


def _remove(
    repo: DirectoryRepository, report: RemovalReport, at: datetime, dry_run: bool,
    progress: Progress,
) -> None:  # fmt: skip
    progress.step("demo: finding the demo records")
    # the demo's runs, and earlier removals': a removal's events name records it deleted,
    # whose ids (SQLite reuses the highest) a later demo load may give its records again
    runs = repo.runs_of((*DEMO_SOURCES, SOURCE))
    services = repo.services_of(DEMO_SOURCES)
    grants = repo.grants_of_sources(DEMO_SOURCES)
    service_ids = {s["id"] for s in services}
    grant_ids = {g["id"] for g in grants}
    outcomes = repo.outcomes_to_remove(service_ids, runs)
    contacts = repo.contacts_to_remove(runs)
    organisations = repo.organisations_to_remove(runs, service_ids, grant_ids)
    opportunity_repo = OpportunityRepository(repo.session)
    opportunities = opportunity_repo.of_sources(DEMO_SOURCES)
    report.counts.update(
        services=len(services), grants=len(grants), outcomes=len(outcomes),
        contacts=len(contacts), opportunities=len(opportunities),
        organisations=len(organisations),
    )  # fmt: skip
    kept = repo.counts()
    report.kept = {
        "services": kept["services"] + kept["services_withdrawn"] - len(services),
        "grants": kept["grants"] + kept["grants_withdrawn"] - len(grants),
        "organisations": kept["organisations"] - len(organisations),
    }
    keep = {p.id for p in known_programmes()}
    programmes = repo.orphan_programmes(keep, grant_ids)
    report.counts["programmes"] = len(programmes)
    if not any(report.counts[name] for name in ENTITIES if name != "programmes"):
        report.counts["programmes"] = 0  # no demo records: nothing of the demo to take out
        return
    run_id = None if dry_run else repo.add_run(_run_row(at))
    events: list[dict[str, Any]] = []

    def event(entity: str, row: dict[str, Any], ref: str, name: str, areas: set[str]) -> None:
        events.append({
            "import_run_id": run_id, "at": at, "entity": entity, "entity_id": row["id"],
            "entity_ref": ref, "action": "withdrawn", "changes": {},
            "summary": f"{entity.capitalize()} '{name}' withdrawn: the demo directory was "
            "removed"[:500],
            "areas": areas,
        })  # fmt: skip

    progress.step("demo: removing outcomes and contacts", total=len(outcomes) + len(contacts))
    for o in outcomes:
        event("outcome", o, f"{o['service_ref']}: {o['metric']}", o["metric"], o["areas"])
    repo.delete_ids(Outcome, [o["id"] for o in outcomes])
    for c in contacts:
        ref = f"{c['area_code']}: {c['role']}"
        event("contact", c, ref, ref, {c["area_code"]})
    repo.delete_ids(PatchContact, [c["id"] for c in contacts])
    progress.advance(len(outcomes) + len(contacts))

    progress.step("demo: removing grants", total=len(grants))
    for g in grants:
        event("grant", g, g["ref"], g["title"] or g["ref"], g["areas"])
    ids = [g["id"] for g in grants]
    repo.delete_ids(GrantService, ids, "grant_id")
    repo.delete_ids(GrantArea, ids, "grant_id")
    repo.delete_ids(Grant, ids)
    progress.advance(len(grants))

    progress.step("demo: removing services", total=len(services))
    for s in services:
        event("service", s, s["ref"], s["name"], s["areas"])
    ids = [s["id"] for s in services]
    for child in (ServiceTheme, ServiceArea, Location, GrantService, Outcome):
        repo.delete_ids(child, ids, "service_id")
    repo.delete_ids(Service, ids)
    progress.advance(len(services))

    progress.step("demo: removing opportunities", total=len(opportunities))
    ids = [o.id for o in opportunities]
    opportunity_areas = opportunity_repo.areas_of(ids)
    for o in opportunities:
        event("opportunity", {"id": o.id}, o.ref, o.title, set(opportunity_areas.get(o.id, [])))
    opportunity_repo.delete_ids(ids)
    opportunity_repo.detach([o["id"] for o in organisations], programmes)
    progress.advance(len(opportunities))

    progress.step("demo: removing organisations and programmes", total=len(organisations))
    for o in organisations:
        event("organisation", o, o["ref"], o["name"], set())
    # (and the refs of organisations merged into them, which name them)
    repo.delete_ids(OrganisationAlias, [o["id"] for o in organisations], "organisation_id")
    repo.delete_ids(Organisation, [o["id"] for o in organisations])
    repo.delete_ids(Programme, programmes)
    progress.advance(len(organisations))

    report.events = len(events)
    report.status = "removed"
    if dry_run:
        return
    progress.step("demo: recording change events", total=len(events))
    repo.add_events(events)
    progress.advance(len(events))
    counts = {name: {"removed": n} for name, n in report.counts.items()}
    repo.add_data_release(
        label=f"import #{run_id} ({SOURCE}: the demo directory removed)",
        checksum="demo-removed",
        details={"source": SOURCE, "counts": counts},
        at=at,
    )
    repo.finish_run(run_id, {  # type: ignore[arg-type]
        "status": "succeeded", "finished_at": now(), "counts": counts,
        "error_count": 0, "warning_count": 0, "problems": [],
    })  # fmt: skip
    report.run_id = run_id


def _run_row(at: datetime) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "format": "demo",
        "location": "directory demo remove",
        "mode": "full",
        "checksum": "demo-removed",
        "status": "running",
        "started_at": at,
        "counts": {},
        "problems": [],
    }
