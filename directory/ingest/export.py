"""Read the directory back into records, for ``directory export`` (the template format, or
360Giving JSON through ``giving360_write``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from directory.ingest.giving360_write import Export360, write_360giving
from directory.ingest.records import (
    Batch,
    GrantRecord,
    LocationRecord,
    OrganisationRecord,
    ServiceRecord,
)
from directory.store.repositories.directory import DirectoryRepository


def batch_from_database(session: Session, *, include_withdrawn: bool = False) -> Batch:
    """Every organisation, and the listed services and grants, as records."""
    repo = DirectoryRepository(session)
    batch = Batch()
    for ref, org in sorted(repo.organisation_states().items()):
        batch.organisations.append(
            OrganisationRecord(
                ref=ref, **{k: v for k, v in org.items() if k not in ("id", "source")}
            )
        )
    for ref, s in sorted(repo.service_states().items()):
        if s["withdrawn_at"] is not None and not include_withdrawn:
            continue
        fields = {
            k: v
            for k, v in s.items()
            if k not in ("id", "source", "withdrawn_at", "organisation", "locations")
        }
        locations = [
            LocationRecord(
                **{k: v for k, v in loc.items() if k not in ("borough_code", "ward_code")}
            )
            for loc in s["locations"]
        ]
        batch.services.append(
            ServiceRecord(
                ref=ref, organisation_ref=s["organisation"], locations=locations, **fields
            )
        )
    for ref, g in sorted(repo.grant_states().items()):
        if g["withdrawn_at"] is not None and not include_withdrawn:
            continue
        batch.grants.append(
            GrantRecord(
                ref=ref,
                funder_ref=g["funder"],
                recipient_ref=g["recipient"],
                service_refs=g["services"],
                amount=None if g["amount"] is None else Decimal(g["amount"]) / 100,
                **{
                    k: v
                    for k, v in g.items()
                    if k
                    not in (
                        "id",
                        "source",
                        "withdrawn_at",
                        "funder",
                        "recipient",
                        "services",
                        "amount",
                    )
                },
            )
        )
    return batch


def giving360_from_database(
    session: Session | Connection, areas: Mapping[str, tuple[str, str]], *,
    refs: Collection[str] | None = None, include_withdrawn: bool = False,
) -> Export360:  # fmt: skip
    """The directory's grants (those of ``refs`` when given; withdrawn ones only with
    ``include_withdrawn``) as a 360Giving package, and those left out."""
    batch = batch_from_database(session, include_withdrawn=include_withdrawn)  # type: ignore[arg-type]
    if refs is not None:
        wanted = set(refs)
        batch.grants = [g for g in batch.grants if g.ref in wanted]
    programmes = {pid: row.name for pid, row in DirectoryRepository(session).programmes().items()}  # type: ignore[arg-type]
    return write_360giving(batch, areas, programmes)
