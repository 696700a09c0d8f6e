"""Write the directory's grants as a 360Giving Data Standard package (JSON, schema 1.4).

The inverse of ``giving360.read_360giving_json``: what it reads back is what was written
(the round trip is tested). Mapping decisions:

* Each grant is one 360Giving grant: ``id`` our ref, as the standard wants it, starting
  ``360G-`` and the publisher's registered prefix: a grant of our own (``MOPAC-DEC-026``)
  as ``<prefix>-<ref>`` (:func:`~directory.ingest.giving360.published_id`;
  ``DIRECTORY_GIVING360_PREFIX``), one read from a 360Giving file with the id its
  publisher gave it; ``parentGrant``, ``relatedActivity``, the "Paid through" sentence,
  ``Grant <id>`` and the grants left out name grants by those ids too. With no prefix set
  our refs are written as they are, which are not 360Giving identifiers: the package's
  description and :attr:`Export360.notices` say so. Funder and recipient as
  ``fundingOrganization`` / ``recipientOrganization`` with their org-ids, names, charity and
  company numbers, web address, email and description; an organisation with no registered
  org-id (held as ``org:safer-london``) under the publisher's prefix, as 360Giving's
  guidance wants, ``<prefix>-safer-london`` (:func:`~directory.ingest.giving360.published_org_id`;
  our ref when no prefix is set), never a registered id we do not hold; ``grantProgramme`` our programme id
  as ``code`` and its name as ``title``; ``plannedDates`` the start, end and duration in
  months; ``beneficiaryLocation`` each beneficiary area with its GSS code and the
  standard's geoCodeType (``WD`` ward, ``LONB`` London borough, ``RGN/GOR`` region); a Met
  BCU, which has no GSS code, by its name and our id; ``regrantType`` as held, which the
  standard puts on the grant made to a grantmaker for onward distribution (MOPAC → an
  SNB's projects fund), not on the onward grants; ``url`` where the grant was published;
  ``dataSource`` the page or file its record was created from, where we know it
  (:func:`directory.ingest.export.data_source`: a MOPAC decision's page, the URL a
  360Giving file was imported from), else left out;
  ``dateModified`` when the grant's record here last changed (its ``updated_at``, kept
  in UTC, written with ``Z``), which the reader does not read back;
  our extensions ``parentGrant``, the grant its money came through, and
  ``financialYear``, the year the grant is counted in when it is not the award date's;
  ``demo`` (true) on a grant that is made-up example data.
* A grant paid through another (``parentGrant``) has its money counted in that grant's
  ``amountAwarded`` too, which a reader who knows only the standard cannot tell: it also
  names the parent in the standard's ``relatedActivity``, its description ends with
  :func:`paid_through_note`, and the package's description says how to total the money
  (leave out the grants whose ``parentGrant`` is in the package). The reader ignores
  ``relatedActivity`` and takes the note off, so the round trip is unchanged.
* A grant the standard cannot carry validly is **left out and reported**, never faked:
  one with no award date or no amount awarded (both required). A grant with no
  description is written with :data:`~directory.ingest.giving360.NO_DESCRIPTION` (not
  its title, which 360Giving's data-quality tool counts as no description), and reported
  as such; one with no title is titled ``Grant <id>``. The reader takes both fillers for
  the blanks they are, so importing the export back changes nothing.
* Services are not part of 360Giving: which services a grant funds stays in our API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from directory.ingest.giving360 import (
    DEMO_KEY,
    FINANCIAL_YEAR_KEY,
    GIVING360_ID_START,
    NO_DESCRIPTION,
    OWN_ORGANISATION_START,
    PARENT_GRANT_KEY,
    is_360giving_id,
    paid_through_note,
    placeholder_title,
    published_id,
    published_org_id,
)
from directory.ingest.records import Batch, GrantRecord, OrganisationRecord
from directory.ingest.values import financial_year_of

#: the 360Giving schema version the package follows
STANDARD_VERSION = "1.4"
#: the standard's geoCodeType codelist code for each kind of area we hold (each a code of
#: its codelists/geoCodeType.csv: the tests check it)
GEO_CODE_TYPES = {"ward": "WD", "borough": "LONB", "police_area": "PFA", "region": "RGN/GOR"}


@dataclass
class Export360:
    """A package and what could not go in it."""

    package: dict[str, Any]
    #: grants left out: {"id": ref, "reasons": [...]}
    excluded: list[dict[str, Any]] = field(default_factory=list)
    #: grants written with something said about them: {"id": ref, "notes": [...]}
    notes: list[dict[str, Any]] = field(default_factory=list)
    #: what is to be said of the package as a whole (its ids not being 360Giving's)
    notices: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "grants": len(self.package["grants"]),
            "excluded": self.excluded,
            "notes": self.notes,
            "notices": self.notices,
        }


def unprefixed_notice(own: int, own_organisations: int = 0) -> str:
    """What a package whose own grants' ids, and own organisations' ids, are our refs says
    (no prefix set): both are written under the prefix once it is set."""
    grants = (
        f"{own:,} grants of this directory's own have ids that are not 360Giving "
        f"identifiers (which start {GIVING360_ID_START} and the publisher's registered "
        "prefix; GrantNav refuses others): they are the directory's refs"
    )
    organisations = (
        f"{own_organisations:,} organisations with no registered org-id are identified by "
        f"the directory's refs ({OWN_ORGANISATION_START}…), not under the publisher's prefix "
        "as 360Giving's guidance wants"
    )
    said = [grants] if own else []
    said += [organisations] if own_organisations else []
    return "; ".join(said) + ", until DIRECTORY_GIVING360_PREFIX is set to the publisher's prefix."


def write_360giving(
    batch: Batch,
    areas: Mapping[str, tuple[str, str]],
    programmes: Mapping[str, str],
    *,
    title: str = "London Funded Services Directory: grants",
    now: datetime | None = None,
    prefix: str | None = None,
    modified: Mapping[str, datetime] | None = None,
    data_sources: Mapping[str, str] | None = None,
) -> Export360:
    """The grants of ``batch`` as a 360Giving package. ``areas`` maps an area code to its
    (name, type); ``programmes`` a programme id to its name; ``prefix`` is the publisher's
    360Giving prefix (``360G-mopac``) that our own grants' ids are written under;
    ``modified`` a grant's ref to when its record was last changed (naive UTC, as the store
    keeps it, or aware), written as its ``dateModified``; ``data_sources`` a grant's ref
    to the URL its record was created from, written as its ``dataSource``."""
    orgs = {org.ref: org for org in batch.organisations}
    stamp = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    out = Export360(
        {
            "grants": [],
            "version": STANDARD_VERSION,
            "title": title,
            "description": "Grants held by the London Funded Services Directory, as its "
            "API serves them (GET /api/v1/grants), in the 360Giving Data Standard. A grant "
            "whose money came through another grant names it in parentGrant (and "
            "relatedActivity): its amountAwarded is already counted in that grant's, so to "
            "total the money, leave out the grants whose parentGrant is a grant of this "
            "package.",
            "publisher": {"name": "London Funded Services Directory"},
            "issued": stamp,
            "modified": stamp,
        }
    )
    for grant in sorted(batch.grants, key=lambda g: g.ref):
        gid = published_id(grant.ref, prefix)
        reasons = []
        if grant.awarded is None:
            reasons.append("no award date (awardDate is required by 360Giving)")
        if grant.amount is None:
            reasons.append("no amount awarded (amountAwarded is required by 360Giving)")
        if grant.funder_ref not in orgs or grant.recipient_ref not in orgs:
            reasons.append("its funder or recipient organisation is not held")
        if reasons:
            out.excluded.append({"id": gid, "reasons": reasons})
            continue
        notes: list[str] = []
        item = _grant(grant, orgs, areas, programmes, notes, prefix)
        if modified is not None and grant.ref in modified:
            item["dateModified"] = rfc3339(modified[grant.ref])
        if data_sources is not None and grant.ref in data_sources:
            item["dataSource"] = data_sources[grant.ref]
        out.package["grants"].append(item)
        if notes:
            out.notes.append({"id": gid, "notes": notes})
    own = sum(not is_360giving_id(g["id"]) for g in out.package["grants"])
    own_orgs = {
        org["id"]
        for g in out.package["grants"]
        for role in ("fundingOrganization", "recipientOrganization")
        for org in g[role]
        if org["id"].startswith(OWN_ORGANISATION_START)
    }
    if own or own_orgs:  # (only when no prefix is set: with one, every id is the standard's)
        notice = unprefixed_notice(own, len(own_orgs))
        out.notices.append(notice)
        out.package["description"] += " " + notice
    return out


def _grant(
    grant: GrantRecord, orgs: Mapping[str, OrganisationRecord],
    areas: Mapping[str, tuple[str, str]], programmes: Mapping[str, str], notes: list[str],
    prefix: str | None,
) -> dict[str, Any]:  # fmt: skip
    assert grant.awarded is not None and grant.amount is not None
    gid = published_id(grant.ref, prefix)
    parent = published_id(grant.parent_ref, prefix) if grant.parent_ref else None
    title = grant.title or placeholder_title(gid)
    if not grant.title:
        notes.append("no title held: written as 'Grant <id>'")
    description = grant.description
    if not description:
        description = NO_DESCRIPTION
        notes.append(f"no description held: written as '{NO_DESCRIPTION}'")
    if parent:
        description = f"{description} {paid_through_note(parent)}"
    item: dict[str, Any] = {
        "id": gid,
        "title": title,
        "description": description,
        "currency": grant.currency,
        "amountAwarded": _number(grant.amount),
        "awardDate": grant.awarded.isoformat(),
        "recipientOrganization": [_organisation(orgs[grant.recipient_ref], prefix)],
        "fundingOrganization": [_organisation(orgs[grant.funder_ref], prefix)],
    }
    planned = {
        key: value
        for key, value in (
            ("startDate", grant.start.isoformat() if grant.start else None),
            ("endDate", grant.end.isoformat() if grant.end else None),
            ("duration", grant.duration_months),
        )
        if value is not None
    }
    if planned:
        item["plannedDates"] = [planned]
    if grant.programme:
        item["grantProgramme"] = [
            {"code": grant.programme, "title": programmes.get(grant.programme, grant.programme)}
        ]
    locations = [_location(code, areas) for code in grant.areas]
    if locations:
        item["beneficiaryLocation"] = locations
    if grant.regrant_type:
        item["regrantType"] = grant.regrant_type
    if grant.source_url:
        item["url"] = grant.source_url
    if parent:
        item["relatedActivity"] = [parent]
        item[PARENT_GRANT_KEY] = parent
    if grant.financial_year and grant.financial_year != financial_year_of(grant.awarded):
        item[FINANCIAL_YEAR_KEY] = grant.financial_year
    if grant.demo:
        item[DEMO_KEY] = True
    return item


def rfc3339(moment: datetime) -> str:
    """An RFC 3339 date-time in UTC ending ``Z`` (``2026-12-06T18:04:34Z``), as the
    standard's ``dateModified`` wants it: a naive time is UTC, as the store keeps every
    time (SQLite gives back the text it was given; PostgreSQL's ``timestamp without time
    zone`` the same naive value), an aware one is converted."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def _number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _organisation(org: OrganisationRecord, prefix: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": published_org_id(org.ref, prefix), "name": org.name}
    for key, value in (
        ("charityNumber", org.charity_number),
        ("companyNumber", org.company_number),
        ("url", org.website),
        ("email", org.email),
        ("description", org.description),
    ):
        if value:
            out[key] = value
    return out


def _location(code: str, areas: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    name, kind = areas.get(code, (code, ""))
    location: dict[str, Any] = {"name": name, "geoCode": code, "countryCode": "GB"}
    if kind in GEO_CODE_TYPES:
        location["geoCodeType"] = GEO_CODE_TYPES[kind]
    return location
