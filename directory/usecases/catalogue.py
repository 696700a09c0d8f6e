"""The directory's read use cases: services, organisations, grants, themes, imports, history
and status, as plain dicts ready to serialise. No Flask here."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from directory.data import org_id_key
from directory.errors import (
    ContactNotFoundError,
    GrantNotFoundError,
    ImportNotFoundError,
    InvalidInputError,
    OrganisationNotFoundError,
    ProgrammeNotFoundError,
    ServiceNotFoundError,
    SiteNotFoundError,
)
from directory.ingest.context import known_organisations
from directory.ingest.context import programmes as known_programmes
from directory.ingest.values import average_months, loose_key
from directory.settings import Settings
from directory.store.repositories.directory import CatalogueQueries, GrantStatusDates
from directory.store.repositories.funding import FundingQueries
from directory.store.repositories.participation import ParticipationRepository
from directory.store.words import name_words
from directory.usecases import vocabulary
from directory.usecases.funding.followup import (
    MEASURED_RULE,
    funding_end_of,
    measured,
    measured_day,
    months_after,
)
from directory.usecases.funding.timing import timing_fields
from directory.usecases.geography import GeographySnapshot, area_scope, resolve_area
from directory.usecases.pagination import envelope, searched_for
from directory.usecases.times import utc_text
from geodata.postcodes import spaced_form

SHORT_TERM_MONTHS = 24
THREE_YEAR_MONTHS = 36
#: the statuses grant_flags derives from a grant's dates (GET /grants?status= takes them)
GRANT_STATUSES = ("planned", "live", "ending soon", "ended", "unknown")
#: which grants an area filter of GET /grants keeps: the same rule as /funding/summary's
GRANT_AREA_RULE = (
    "An area code or name (E09000022, Lambeth, E05… ward, 'Central West BCU', E12000007, "
    "E23000001 the Metropolitan Police District). Grants are kept whose beneficiary areas are "
    "the area, an area inside it (a ward-level grant is in its borough, BCU, the District and "
    "London) or an area above it (London-wide, District-wide and BCU-wide grants reach every "
    "area in them: the District's, every borough but the City of London), as "
    "/funding/summary's area filter counts them."
)


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def area_ref(snap: GeographySnapshot, code: str) -> dict[str, Any]:
    """An area as {code, name, type}; codes no longer in the loaded geography say so."""
    area = snap.areas.get(code)
    if area is None:
        return {"code": code, "name": None, "type": None, "note": "not in the loaded boundaries"}
    return area.ref()


def live_between(g: Any, first: date, last: date) -> bool:
    """Whether a grant runs on some day from ``first`` to ``last``: it has a start or an end
    (a grant with neither has status ``unknown``: nothing says when it runs), it started
    by ``last`` and it did not end before ``first``; a missing start or end is open. The
    store's ``dated_and_live_between`` is the same rule in SQL."""
    start, end = g.start, g.end
    if start is None and end is None:
        return False
    return (start is None or start <= last) and (end is None or end >= first)


def is_live(g: Any, day: date) -> bool:
    """Live on ``day`` (:func:`live_between` the day and itself)."""
    return live_between(g, day, day)


def grant_flags(row: Any, today: date, settings: Settings) -> dict[str, Any]:
    """Duration flags and a status derived from the dates (never stored, so never stale)."""
    months = row.duration_months
    if months is None and row.start is not None and row.end is not None:
        months = average_months(row.start, row.end + timedelta(days=1))
    soon = today + timedelta(days=settings.ending_soon_days)
    if row.start is not None and row.start > today:
        status = "planned"
    elif row.end is not None and row.end < today:
        status = "ended"
    elif row.end is not None and row.end <= soon:
        status = "ending soon"
    elif row.start is not None or row.end is not None:
        status = "live"
    else:
        status = "unknown"
    return {
        "duration_months": months,
        "short_term": None if months is None else months < SHORT_TERM_MONTHS,
        "meets_3yr_target": None if months is None else months >= THREE_YEAR_MONTHS,
        "ending_soon": status == "ending soon",
        "status": status,
        "months_left": (
            average_months(today, row.end) if row.end is not None and row.end >= today else None
        ),
    }


def grant_summary(
    row: Any, areas: list[str], snap: GeographySnapshot, today: date, settings: Settings
) -> dict[str, Any]:
    return {
        "id": row.id,
        "ref": row.ref,
        "title": row.title,
        "funder": {"ref": row.funder_ref, "name": row.funder_name},
        "recipient": {"ref": row.recipient_ref, "name": row.recipient_name},
        "programme": (
            {"id": row.programme_id, "name": row.programme_name} if row.programme_id else None
        ),
        "amount": None if row.amount_pence is None else row.amount_pence / 100,
        "currency": row.currency,
        "awarded": iso(row.awarded),
        "start": iso(row.start),
        "end": iso(row.end),
        "financial_year": row.financial_year,
        **grant_flags(row, today, settings),
        **timing_fields(row.awarded, row.start, row.financial_year),
        "beneficiary_areas": [area_ref(snap, c) for c in areas],
        "regrant_type": row.regrant_type,
        "paid_through": row.parent_ref,
        "withdrawn": row.withdrawn_at is not None,
        "demo": row.demo,
    }


def _is_stale(last_verified: date | None, today: date, settings: Settings) -> bool:
    return last_verified is None or last_verified < today - timedelta(
        days=settings.stale_after_days
    )


def service_summary(
    row: Any, themes: list[str], coverage: list[str], snap: GeographySnapshot,
    today: date, settings: Settings,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": row.id,
        "ref": row.ref,
        "name": row.name,
        "status": row.status,
        "organisation": {
            "id": row.organisation_id,
            "ref": row.organisation_ref,
            "name": row.organisation_name,
        },
        "themes": themes,
        "coverage": [area_ref(snap, c) for c in coverage],
        "last_verified": iso(row.last_verified),
        "stale": _is_stale(row.last_verified, today, settings),
        "withdrawn": row.withdrawn_at is not None,
        "updated_at": row.updated_at.isoformat() + "Z",
        "demo": row.demo,
    }


def site_body(row: Any, snap: GeographySnapshot) -> dict[str, Any]:
    """A delivery site as every answer shows it."""
    return {
        "ref": row.ref,
        "name": row.name,
        "address": row.address,
        "postcode": spaced_form(row.postcode),
        "lat": row.lat,
        "lon": row.lon,
        "borough": area_ref(snap, row.borough_code) if row.borough_code else None,
        "ward": area_ref(snap, row.ward_code) if row.ward_code else None,
        "demo": row.demo,
    }


def _outcome(row: Any, funding_end: date | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "metric": row.metric,
        "period_start": iso(row.period_start),
        "period_end": iso(row.period_end),
        "measured": measured(row),
        "after_funding_months": months_after(funding_end, measured_day(row)),
        "value": row.value,
        "target": row.target,
        "unit": row.unit,
        "met_target": None if row.value is None or row.target is None else row.value >= row.target,
        "report": {"type": row.report_type, "url": row.report_url} if row.report_url else None,
        "demo": row.demo,
    }


def contact(row: Any, snap: GeographySnapshot) -> dict[str, Any]:
    """A patch contact as reads show it (``row`` from a query that hides a private email)."""
    return {
        "id": row.id,
        "area": area_ref(snap, row.area_code),
        "role": row.role,
        "name": row.name,
        "email": row.email,
        "phone": row.phone,
        "demo": row.demo,
        "version": row.version,
    }


# -- services --------------------------------------------------------------------------------
def service_detail(
    q: CatalogueQueries, snap: GeographySnapshot, settings: Settings, today: date, key: str
) -> dict[str, Any]:
    """One service as GET /services/{key} shows it, with the day its funding ended (which
    its outcomes are measured against) read from its grants as they are now."""
    service_id = q.service_id(key)
    if service_id is None:
        raise ServiceNotFoundError(f"No service has the id or ref {key!r}.")
    funding_end = funding_end_of(FundingQueries(q.db), service_id)
    (row,) = q.services([service_id])
    themes, coverage = (
        q.themes_of([service_id])[service_id],
        q.coverage_of([service_id])[service_id],
    )
    locations = q.locations_of([service_id])[service_id]
    grants = q.grants_of([service_id])[service_id]
    grant_areas = q.grant_areas([g.id for g in grants])
    boroughs = {loc.borough_code for loc in locations if loc.borough_code} | set(coverage)
    answer = service_summary(row, themes, coverage, snap, today, settings)
    answer["organisation"]["type"] = row.organisation_type
    answer.update(
        description=row.description,
        eligibility={
            "min_age": row.min_age,
            "max_age": row.max_age,
            "description": row.eligibility,
            "who_can_refer": row.referral,
        },
        contact={"email": row.email, "phone": row.phone, "website": row.website},
        locations=[site_body(loc, snap) for loc in locations],
        grants=[grant_summary(g, grant_areas[g.id], snap, today, settings) for g in grants],
        outcomes=[_outcome(o, funding_end) for o in q.outcomes_of([service_id])[service_id]],
        funding_ended=iso(funding_end),
        outcomes_rule=MEASURED_RULE,
        patch_contacts=[contact(c, snap) for c in q.contacts_for(boroughs)],
        created_at=row.created_at.isoformat() + "Z",
        withdrawn_at=None if row.withdrawn_at is None else row.withdrawn_at.isoformat() + "Z",
        source=row.source,
        hsds_extras=row.hsds_extras,
        practice_notes=[
            practice_link(r)
            for r in ParticipationRepository(q.db).service_notes(service_id, PRACTICE_ON_SERVICE)
        ],
    )
    return answer


#: the most practice notes a service's answer lists (the newest; all at /practice?service=)
PRACTICE_ON_SERVICE = 5


def practice_link(row: Any) -> dict[str, Any]:
    """A practice note as a service's answer or a dashboard lists it."""
    return {
        "id": row.id,
        "title": row.title,
        "published_at": row.published_at.isoformat() + "Z",
        "url": f"/api/v1/practice/{row.id}",
    }


def service_link(row: Any) -> dict[str, Any]:
    """The service a site or outcome belongs to (``row``: id, ref, name, withdrawn_at)."""
    return {
        "id": row.id,
        "ref": row.ref,
        "name": row.name,
        "withdrawn": row.withdrawn_at is not None,
        "url": f"/api/v1/services/{row.id}",
    }


def site_detail(
    q: CatalogueQueries, snap: GeographySnapshot, key: str, site_ref: str
) -> dict[str, Any]:
    """One delivery site of a service (by the site's ref), with the service it belongs to."""
    service_id = q.service_id(key)
    if service_id is None:
        raise ServiceNotFoundError(f"No service has the id or ref {key!r}.")
    row = q.location(service_id, site_ref)
    if row is None:
        raise SiteNotFoundError(f"Service {key!r} has no site {site_ref!r}.")
    (service,) = q.services([service_id])
    return {**site_body(row, snap), "service": service_link(service)}


def contact_detail(q: CatalogueQueries, snap: GeographySnapshot, contact_id: int) -> dict[str, Any]:
    row = q.contact(contact_id)
    if row is None:
        raise ContactNotFoundError(f"There is no patch contact {contact_id}.")
    return contact(row, snap)


def list_contacts(
    q: CatalogueQueries, snap: GeographySnapshot, *, area: str | None, page: int, per_page: int
) -> dict[str, Any]:
    """Patch contacts (borough SPOCs, SNB chairs, BCU leads), of an area and the areas
    inside it when ``area`` is given, by area and role."""
    codes = area_scope(snap, resolve_area(snap, area)) if area is not None else None
    rows, total = q.contacts_page(areas=codes, offset=(page - 1) * per_page, limit=per_page)
    return envelope(
        [contact(r, snap) for r in rows], total_items=total, page=page, per_page=per_page
    )


def service_history(
    q: CatalogueQueries, snap: GeographySnapshot, key: str, page: int, per_page: int
) -> dict[str, Any]:
    """The service's change events, and its outcomes' (sites are part of the service's)."""
    service_id = q.service_id(key)
    if service_id is None:
        raise ServiceNotFoundError(f"No service has the id or ref {key!r}.")
    return history(
        q, snap, "service", service_id, page, per_page, outcomes_of=q.service_ref(service_id)
    )


def contact_history(
    q: CatalogueQueries, snap: GeographySnapshot, contact_id: int, page: int, per_page: int
) -> dict[str, Any]:
    if q.contact(contact_id) is None:
        raise ContactNotFoundError(f"There is no patch contact {contact_id}.")
    return history(q, snap, "contact", contact_id, page, per_page)


def history(
    q: CatalogueQueries, snap: GeographySnapshot, entity: str, entity_id: int, page: int,
    per_page: int, *, outcomes_of: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A record's change events, newest first, with old → new values and who made them."""
    rows, total = q.events_page(
        entity=entity, entity_id=entity_id, offset=(page - 1) * per_page, limit=per_page,
        outcomes_of=outcomes_of,
    )  # fmt: skip
    areas = q.event_areas([r.id for r in rows])
    return envelope(
        [event(r, areas[r.id], snap) for r in rows], total_items=total, page=page, per_page=per_page
    )


def event(row: Any, areas: list[str], snap: GeographySnapshot) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat() + "Z",
        "entity": row.entity,
        "entity_id": row.entity_id,
        "entity_ref": row.entity_ref,
        "action": row.action,
        "summary": row.summary,
        "changes": {k: {"old": v[0], "new": v[1]} for k, v in row.changes.items()},
        "areas": [area_ref(snap, c) for c in areas],
        "import_run": row.import_run_id,
        "actor": row.actor,
    }


# -- organisations -----------------------------------------------------------------------------
def organisation_body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "ref": row.ref,
        "name": row.name,
        "type": row.type,
        "identifiers": {
            "org_id": row.ref if not row.ref.startswith("org:") else None,
            "charity_number": row.charity_number,
            "company_number": row.company_number,
        },
        "size_band": row.size_band,
        "website": row.website,
        "email": row.email,
        "description": row.description,
        "demo": row.demo,
    }


def list_organisations(
    q: CatalogueQueries, *, text: str | None, type_: str | None, page: int, per_page: int
) -> dict[str, Any]:
    rows, total = q.organisations_page(
        q=searched_for(text, "q"), type_=type_, offset=(page - 1) * per_page, limit=per_page
    )
    return envelope(
        [organisation_body(r) for r in rows], total_items=total, page=page, per_page=per_page
    )


#: an organisation's address, before its escaped ref
ORGANISATION_PATH = "/api/v1/organisations/"


def organisation_moved(q: CatalogueQueries, key: str) -> str | None:
    """The address of the organisation ``key`` names now, when ``key`` is the id or ref of
    one merged into it (an alias, ``organisation_alias``) and of no organisation held;
    else None (``key`` names a held organisation, or none at all)."""
    if q.organisation_id(key, aliases=False) is not None:
        return None
    alias = q.organisation_alias(key)
    return None if alias is None else ORGANISATION_PATH + quote(alias.organisation_ref, safe="")


def organisation_detail(
    q: CatalogueQueries, snap: GeographySnapshot, settings: Settings, today: date, key: str
) -> dict[str, Any]:
    org_id = q.organisation_id(key)
    row = None if org_id is None else q.organisation(org_id)
    if row is None:
        raise unknown_organisation(q, key)
    service_ids = q.service_ids_of_organisation(row.id)
    services = q.services(service_ids)
    themes, coverage = q.themes_of(service_ids), q.coverage_of(service_ids)
    grants, _ = q.grants_page(organisation_id=row.id, offset=0, limit=1000)
    grant_areas = q.grant_areas([g.id for g in grants])
    return {
        **organisation_body(row),
        "services": [
            service_summary(s, themes[s.id], coverage[s.id], snap, today, settings)
            for s in sorted(services, key=lambda s: s.name)
        ],
        "grants_received": [
            grant_summary(g, grant_areas[g.id], snap, today, settings)
            for g in grants
            if g.recipient_id == row.id
        ],
        "grants_made": [
            grant_summary(g, grant_areas[g.id], snap, today, settings)
            for g in grants
            if g.funder_id == row.id
        ],
    }


# -- grants ------------------------------------------------------------------------------------
def list_grants(
    q: CatalogueQueries, snap: GeographySnapshot, settings: Settings, today: date, *,
    programme: str | None = None, organisation: str | None = None,
    funder: str | None = None, recipient: str | None = None, area: str | None = None,
    text: str | None = None, status: Sequence[str] | None = None,
    include_withdrawn: bool = False, page: int, per_page: int,
) -> dict[str, Any]:  # fmt: skip
    """One page of grants under the filters (every one given must hold). Organisations by
    id or ref; an area by code or name, with the areas inside and above it (GRANT_AREA_RULE);
    ``text`` word by word; ``status`` any of these, by the dates, as grant_flags derives
    them."""
    rows, total = q.grants_page(
        **grant_filters(
            q, snap, settings, today, programme=programme, organisation=organisation,
            funder=funder, recipient=recipient, area=area, text=text, status=status,
            include_withdrawn=include_withdrawn,
        ),
        offset=(page - 1) * per_page, limit=per_page,
    )  # fmt: skip
    grant_areas = q.grant_areas([r.id for r in rows])
    return envelope(
        [grant_summary(r, grant_areas[r.id], snap, today, settings) for r in rows],
        total_items=total, page=page, per_page=per_page,
    )  # fmt: skip


def grant_filters(
    q: CatalogueQueries, snap: GeographySnapshot, settings: Settings, today: date, *,
    programme: str | None = None, organisation: str | None = None,
    funder: str | None = None, recipient: str | None = None, area: str | None = None,
    text: str | None = None, status: Sequence[str] | None = None,
    include_withdrawn: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The filters of GET /grants, checked and resolved, as ``grants_page`` takes them
    (``status``: any of these)."""
    if programme is not None and not programme_known(q, programme):
        raise unknown_programme(q, programme)
    org_ids = {
        name: _organisation(q, key)
        for name, key in (
            ("organisation", organisation), ("funder", funder), ("recipient", recipient)
        )
        if key is not None
    }  # fmt: skip
    searched = searched_for(text, "q")
    words = None if searched is None else name_words(searched)
    if status and not set(status) <= set(GRANT_STATUSES):
        message = f"status must be one of {', '.join(GRANT_STATUSES)}."
        raise InvalidInputError(message, errors={"status": [message]})
    areas = area_scope(snap, resolve_area(snap, area)) if area is not None else None
    return {
        "programme": programme, "organisation_id": org_ids.get("organisation"),
        "funder_id": org_ids.get("funder"), "recipient_id": org_ids.get("recipient"),
        "areas": areas, "words": words,
        "status": (
            None if not status else GrantStatusDates(
                tuple(dict.fromkeys(status)), today,
                today + timedelta(days=settings.ending_soon_days),
            )
        ),
        "include_withdrawn": include_withdrawn,
    }  # fmt: skip


def _organisation(q: CatalogueQueries, key: str) -> int:
    org_id = q.organisation_id(key)
    if org_id is None:
        raise unknown_organisation(q, key)
    return org_id


#: how close a name must be spelled to be suggested (difflib's ratio)
SUGGEST_CUTOFF = 0.5
#: at most this many organisations are compared with a mistyped one (read by fragment)
SUGGEST_CANDIDATES = 200


def _closest(key: str, options: dict[str, list[str]], limit: int = 5) -> list[str]:
    """The option ids whose texts (id, name) are spelled closest to ``key``, best first."""
    wanted = key.casefold().strip()
    scored = []
    for option, texts in options.items():
        best = max(difflib.SequenceMatcher(None, wanted, t.casefold()).ratio() for t in texts if t)
        if best >= SUGGEST_CUTOFF:
            scored.append((-best, option))
    return [option for _, option in sorted(scored)[:limit]]


def unknown_organisation(q: CatalogueQueries, key: str) -> OrganisationNotFoundError:
    """The 404 for an organisation id or ref nobody holds, with the organisations it may
    have meant: the one organisations.csv knows by that name or org-id, then those whose
    name or ref shares a word's first letters, spelled closest."""
    fragments = sorted({w[:4] for w in re.findall(r"\w{3,}", key.casefold())} - {"org"})
    rows = q.organisations_containing(fragments, SUGGEST_CANDIDATES)
    names = {r.ref: r.name for r in rows}
    found = _closest(key, {r.ref: [r.ref, r.name] for r in rows})
    known = known_organisations()  # organisations.csv: "MOPAC" is GB-GOR-PC390
    alias = known.by_name.get(loose_key(key)) or known.by_identifier.get(org_id_key(key))
    if alias is not None and alias not in found and q.organisation_id(alias) is not None:
        found.insert(0, alias)
        names[alias] = known.names[alias]
    return OrganisationNotFoundError(
        f"No organisation has the id or ref {key!r}; see GET /api/v1/organisations?q=.",
        suggestions=[{"ref": ref, "name": names[ref]} for ref in found],
    )


def unknown_programme(q: CatalogueQueries, programme_id: str) -> ProgrammeNotFoundError:
    """The 404 for a programme id nobody holds, with the programmes it may have meant."""
    return vocabulary.unknown_programme(programme_id, {r.id: r.name for r in q.programme_names()})


def programme_known(q: CatalogueQueries, programme_id: str) -> bool:
    """A programme the directory holds or directory/data/programmes.csv lists (the ids
    GET /programmes/{id} answers for)."""
    return programme_id in {p.id for p in known_programmes()} or q.programme_exists(programme_id)


#: the chain's last link when Paid through comes back to a grant already in it
LOOP_NOTE = "already in the chain: paid through in a loop, so the chain stops here"


def grant_detail(
    q: CatalogueQueries, snap: GeographySnapshot, settings: Settings, today: date, key: str
) -> dict[str, Any]:
    grant_id = q.grant_id(key)
    row = None if grant_id is None else q.grant(grant_id)
    if row is None:
        raise GrantNotFoundError(f"No grant has the id or ref {key!r}.")
    answer = grant_summary(row, q.grant_areas([row.id])[row.id], snap, today, settings)
    chain: list[dict[str, Any]] = []
    parent_ref, seen = row.parent_ref, {row.ref}
    while parent_ref and len(chain) < 10:
        if parent_ref in seen:  # a loop (imports refuse them): the chain stops at the repeat
            chain.append({"ref": parent_ref, "note": LOOP_NOTE})
            break
        seen.add(parent_ref)
        parent = q.grant_by_ref(parent_ref)
        if parent is None:
            chain.append({"ref": parent_ref, "note": "not in the directory"})
            break
        chain.append(
            {"id": parent.id, "ref": parent.ref, "funder": parent.funder_name,
             "recipient": parent.recipient_name, "title": parent.title}
        )  # fmt: skip
        parent_ref = parent.parent_ref
    answer.update(
        description=row.description,
        services=[
            {"id": s.id, "ref": s.ref, "name": s.name} for s in q.grant_services([row.id])[row.id]
        ],
        chain=chain,
        regrants=[
            {
                "id": c.id,
                "ref": c.ref,
                "recipient": c.recipient_name,
                "amount": None if c.amount_pence is None else c.amount_pence / 100,
            }
            for c in q.grant_children(row.ref)
        ],
        source_url=row.source_url,
        source=row.source,
    )
    return answer


# -- themes, imports, status -------------------------------------------------------------------
def list_themes(q: CatalogueQueries) -> dict[str, Any]:
    rows = q.themes()
    contents = [
        {"id": r.id, "name": r.name, "description": r.description, "services": r.services}
        for r in rows
    ]
    return envelope(contents, total_items=len(contents), page=1, per_page=max(1, len(contents)))


def import_body(row: Any, *, with_problems: bool) -> dict[str, Any]:
    body = {
        "id": row.id,
        "source": row.source,
        "format": row.format,
        "location": row.location,
        "mode": row.mode,
        "checksum": row.checksum,
        "status": row.status,
        "started_at": row.started_at.isoformat() + "Z",
        "finished_at": None if row.finished_at is None else row.finished_at.isoformat() + "Z",
        "counts": row.counts,
        "errors": row.error_count,
        "warnings": row.warning_count,
        "actor": row.actor,
    }
    if with_problems:
        body["records"] = row.records or {}  # (null: a run recorded before migration 0028)
        body["problems"] = row.problems
        # runs keep their first MAX_STORED_PROBLEMS (runs before it was raised, their first 500)
        body["problems_truncated"] = len(row.problems) < row.error_count + row.warning_count
    return body


def list_imports(
    q: CatalogueQueries, *, source: str | None, page: int, per_page: int
) -> dict[str, Any]:
    rows, total = q.imports_page(source=source, offset=(page - 1) * per_page, limit=per_page)
    return envelope(
        [import_body(r, with_problems=False) for r in rows],
        total_items=total, page=page, per_page=per_page,
    )  # fmt: skip


def import_detail(q: CatalogueQueries, run_id: int) -> dict[str, Any]:
    row = q.import_run(run_id)
    if row is None:
        raise ImportNotFoundError(f"No import run has the id {run_id}.")
    return import_body(row, with_problems=True)


def status(
    q: CatalogueQueries, snap: GeographySnapshot, settings: Settings, today: date
) -> dict[str, Any]:
    return {
        "data_version": snap.version.id,
        "data_loaded_at": utc_text(snap.version.loaded_at),
        "geography": snap.release,
        "counts": q.counts(),
        "stale_services": q.stale_services(today - timedelta(days=settings.stale_after_days)),
        "stale_after_days": settings.stale_after_days,
        "sources": [import_body(r, with_problems=False) for r in q.last_runs()],
    }
