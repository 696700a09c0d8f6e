"""Read the directory back into records, for ``directory export`` (the template format, or
360Giving JSON through ``giving360_write``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

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
from directory.store.repositories.directory import DirectoryRepository, GrantProvenance

#: the sources whose grants are made from MOPAC decision records (the demo's, from the
#: curated decisions file): each grant's source_url is its decision's page, the document the
#: record was created from
DECISION_SOURCES = frozenset({"demo-mopac-decisions"})


def _organisation_record(ref: str, org: dict[str, Any]) -> OrganisationRecord:
    return OrganisationRecord(
        ref=ref, **{k: v for k, v in org.items() if k not in ("id", "source")}
    )


def _grant_record(ref: str, g: dict[str, Any]) -> GrantRecord:
    skipped = ("id", "source", "withdrawn_at", "funder", "recipient", "services", "amount")
    return GrantRecord(
        ref=ref,
        funder_ref=g["funder"],
        recipient_ref=g["recipient"],
        service_refs=g["services"],
        amount=None if g["amount"] is None else Decimal(g["amount"]) / 100,
        **{k: v for k, v in g.items() if k not in skipped},
    )


def batch_from_database(session: Session, *, include_withdrawn: bool = False) -> Batch:
    """Every organisation, and the listed services and grants, as records."""
    repo = DirectoryRepository(session)
    batch = Batch()
    for ref, org in sorted(repo.organisation_states().items()):
        batch.organisations.append(_organisation_record(ref, org))
    for ref, s in sorted(repo.service_states().items()):
        if s["withdrawn_at"] is not None and not include_withdrawn:
            continue
        fields = {
            k: v
            for k, v in s.items()
            if k
            not in ("id", "organisation_id", "source", "withdrawn_at", "organisation", "locations")
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
        batch.grants.append(_grant_record(ref, g))
    return batch


def giving360_from_database(
    session: Session | Connection, areas: Mapping[str, tuple[str, str]], *,
    grant_ids: Sequence[int] | None = None, prefix: str | None = None,
) -> Export360:  # fmt: skip
    """The grants as a 360Giving package, and those left out: every grant not withdrawn,
    or those of ``grant_ids`` (read by id with the organisations they name, nothing else);
    our own grants' ids under the publisher's 360Giving ``prefix``; each grant's
    ``dateModified`` when its record here last changed."""
    repo = DirectoryRepository(session)  # type: ignore[arg-type]
    modified = repo.grants_modified(grant_ids)
    if grant_ids is None:
        batch = batch_from_database(session)  # type: ignore[arg-type]
    else:
        batch = Batch()
        grants = repo.grant_states_of(grant_ids)
        batch.grants = [_grant_record(ref, g) for ref, g in sorted(grants.items())]
        named = {g["funder"] for g in grants.values()} | {g["recipient"] for g in grants.values()}
        orgs = repo.organisation_states_of(named)
        batch.organisations = [_organisation_record(ref, o) for ref, o in sorted(orgs.items())]
    programmes = {pid: row.name for pid, row in repo.programmes().items()}
    sources = {
        ref: url
        for ref, held in repo.grant_provenance(grant_ids).items()
        if (url := data_source(held)) is not None
    }
    return write_360giving(
        batch, areas, programmes, prefix=prefix, modified=modified, data_sources=sources
    )


def data_source(held: GrantProvenance) -> str | None:
    """360Giving's ``dataSource`` of a grant, the "URL of a web page, dataset or document
    from which this record was created", where we know it, never guessed: a grant made from
    a MOPAC decision, the decision's page; a grant read from a 360Giving file, the URL its
    source was last imported from (``directory import URL``, ``sources.toml``), when that
    was a URL (a local file's name says nothing to a reader elsewhere); else None."""
    if held.source in DECISION_SOURCES:
        return held.source_url
    location = held.run_location or ""
    if held.run_format == "360giving" and location.startswith(("http://", "https://")):
        return location
    return None
