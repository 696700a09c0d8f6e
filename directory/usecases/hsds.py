"""The directory as an Open Referral HSDS 3.0 API, Open Referral UK profile
(``/api/v1/hsds``): the mapping from our records to HSDS objects, and the use cases behind
each operation. No Flask here; reads go through :class:`HsdsQueries` and
:class:`CatalogueQueries`, for one page's ids at a time.

Mapping decisions:

* **Ids** are UUIDs, stable from one import to the next: version 5 UUIDs in the project's
  namespace :data:`NAMESPACE` of our stable refs (a service's ref, an organisation's ref, a
  delivery site's service ref and ref, a theme's id; a nested object's from its parent's
  HSDS id and its own key), or, for a service, organisation or site, the ref itself when it already is
  a UUID (a record imported from HSDS keeps the id it came with, so a re-export gives the
  same ids). :class:`HsdsIds` maps them back, built once per data version.
* A **service** carries its name, description, url, email, status, ages, eligibility, who
  can refer (``application_process``),
  ``assured_date`` (our last verified date), ``last_modified`` (our last change), its phone,
  its ``organization``, ``service_areas``, ``service_at_locations`` (each with its
  ``location``), ``attributes`` (its themes, as terms of our taxonomy), ``funding`` (each
  grant not withdrawn, in ``source`` text: funder, programme, amount, dates, our grant
  ref; HSDS funding has no other member for them) and ``contacts`` (the patch contacts
  of the areas it serves: borough SPOCs, SNB chairs, BCU leads).
* A **service area** is one area of the service's coverage: its name, and its GSS code in
  ``uri`` (the ONS linked-data address of the code) and ``extent`` (``extent_type``
  ``gss_code``); a Met BCU, which has no GSS code, by its name and our id.
* A **location** is a delivery site (``location_type`` physical), with its coordinates and
  one address: the site's address split at its commas (first part ``address_1``, last
  part ``city``, the rest ``address_2``), ``state_province`` London, ``country`` GB, and
  its postcode.
* The **taxonomy** is our themes (directory/data/themes.csv): one taxonomy, one term per
  theme (``code`` the theme id).
* An **organisation** carries its name, description (``""`` when we hold none: ORUK
  requires the member), email, website, its type as ``legal_status``, and
  ``organization_identifiers``: its org-id (our ref), charity and company numbers.
* What an HSDS import read that has no column of ours (``service.hsds_extras``:
  schedules, languages, cost options, required documents, the source's funding and
  contacts, fees and alert text) is served back in the full service, as read.
* Optional members we have no value for are omitted, never null (ORUK).
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from directory.errors import (
    InvalidInputError,
    NotFoundError,
    OrganisationNotFoundError,
    ServiceNotFoundError,
)
from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.geography import GeographyRepository
from directory.store.repositories.hsds import HsdsQueries
from directory.store.repositories.search import Filters, Near
from directory.usecases.background import PerVersion
from directory.usecases.geography import GeographySnapshot, lookup_postcode
from directory.usecases.hsds_ids import (
    hsds_id,
    location_uuid,
    organization_uuid,
    service_uuid,
)
from directory.usecases.pagination import envelope, moment_text, searched_for
from directory.usecases.search import area_match, utc_naive
from directory.usecases.vocabulary import themes as theme_entries
from geodata.postcodes import spaced_form

#: the HSDS version this API implements
HSDS_VERSION = "3.0"
#: the profile it implements: Open Referral UK, on HSDS 3.0
PROFILE_URL = "https://github.com/OpenReferralUK/uk-profile"
#: what ``proximity`` (metres around a postcode) may be
MAX_PROXIMITY_M = 20_000
TAXONOMY_NAME = "London Funded Services Directory themes"
TAXONOMY_DESCRIPTION = (
    "The community-safety themes the London Funded Services Directory tags services with "
    "(directory/data/themes.csv)."
)
TAXONOMY_VERSION = "1"
LEGAL_STATUS = {
    "voluntary": "Voluntary or community organisation (charity, CIO, CIC, community group)",
    "council": "Local authority (council)",
    "nhs": "NHS body",
    "police": "Police or policing body",
    "education": "School, college or university",
    "business": "Private limited company or other business",
    "other": "Other",
}
_ONS_GSS = "https://statistics.data.gov.uk/id/statistical-geography/"


# -- ids -----------------------------------------------------------------------------------------
def service_at_location_uuid(service_ref: str, location_ref: str) -> str:
    return _service_at_location(service_uuid(service_ref), location_uuid(service_ref, location_ref))


def _service_at_location(service_id: str, location_id: str) -> str:
    return hsds_id("service_at_location", service_id, location_id)


TAXONOMY_ID = hsds_id("taxonomy", "themes")


def taxonomy_term_uuid(theme_id: str) -> str:
    return hsds_id("taxonomy_term", theme_id)


_LOW_64 = (1 << 64) - 1


class IdTable:
    """HSDS ids (UUIDs, canonical text) of one kind of record → our ids, as three sorted
    arrays (the UUID's two halves and our id): 24 bytes a record, where a dict of strings
    took 140 (36 MB for 100,000 services and 70,000 sites, now 6)."""

    __slots__ = ("high", "low", "ids", "last")

    def __init__(self, pairs: Sequence[tuple[str, int]]) -> None:
        values = [int(text.replace("-", ""), 16) for text, _ in pairs]
        high = np.fromiter((v >> 64 for v in values), dtype=np.uint64, count=len(values))
        low = np.fromiter((v & _LOW_64 for v in values), dtype=np.uint64, count=len(values))
        ids = np.fromiter((our for _, our in pairs), dtype=np.int64, count=len(pairs))
        order = np.lexsort((low, high))
        self.high, self.low, self.ids = high[order], low[order], ids[order]
        #: the highest of our ids (0 for none): a record added later has a higher one
        self.last = int(ids.max()) if len(ids) else 0

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, canonical: str) -> int | None:
        """Our id of the record whose id is ``canonical`` (``str(uuid.UUID(...))``)."""
        value = int(canonical.replace("-", ""), 16)
        high, low = np.uint64(value >> 64), np.uint64(value & _LOW_64)
        first = int(np.searchsorted(self.high, high, "left"))
        last = int(np.searchsorted(self.high, high, "right"))
        for at in range(first, last):  # one, unless two ids share their first 64 bits
            if self.low[at] == low:
                return int(self.ids[at])
        return None


@dataclass
class HsdsIds:
    """HSDS ids → our database ids, for one data version (ids derive from refs, which never
    change; but an import writes a changed service's sites afresh, with ids of ours of
    their own, so an earlier version's index may name a row that is gone, or, where SQLite
    gave its id to a new row, another record's: ``_by_id`` checks)."""

    version: int
    services: IdTable
    organizations: IdTable
    locations: IdTable
    service_at_locations: IdTable

    @classmethod
    def build(cls, repo: HsdsQueries, version: int) -> HsdsIds:
        rows = repo.identifier_rows()
        by_ref = {r.ref: service_uuid(r.ref) for r in rows["service"]}
        locations = [(location_uuid(r.service_ref, r.ref), r.id) for r in rows["location"]]
        return cls(
            version,
            services=IdTable([(by_ref[r.ref], r.id) for r in rows["service"]]),
            organizations=IdTable([(organization_uuid(r.ref), r.id) for r in rows["organization"]]),
            locations=IdTable(locations),
            service_at_locations=IdTable([
                (_service_at_location(by_ref[r.service_ref], location), our)
                for r, (location, our) in zip(rows["location"], locations, strict=True)
            ]),
        )  # fmt: skip

    @staticmethod
    def of_rows(
        repo: HsdsQueries, kind: str, *, above: int | None = None, ids: Sequence[int] = (),
        limit: int | None = None,
    ) -> IdTable | None:  # fmt: skip
        """The ids of ``kind`` (as the index's attributes are named) of the records as they
        are now whose id of ours is above ``above`` (those imports added since an index was
        built: database ids only grow), or else is among ``ids``; None when there are more
        than ``limit``."""
        rows = repo.identifier_rows_of(
            _ROW_KINDS[kind], above=above, ids=ids, limit=None if limit is None else limit + 1
        )
        if limit is not None and len(rows) > limit:
            return None
        make = {
            "services": lambda r: service_uuid(r.ref),
            "organizations": lambda r: organization_uuid(r.ref),
            "locations": lambda r: location_uuid(r.service_ref, r.ref),
            "service_at_locations": lambda r: service_at_location_uuid(r.service_ref, r.ref),
        }[kind]
        return IdTable([(make(r), r.id) for r in rows])


#: the rows (:meth:`HsdsQueries.identifier_rows`) each kind of HSDS id is made from
_ROW_KINDS = {
    "services": "service",
    "organizations": "organization",
    "locations": "location",
    "service_at_locations": "location",
}


class HsdsIdCache:
    """The id index of the newest data version, built on the first lookup by id (per
    process). Serving (``background``), after an import the previous version's index
    answers while a thread builds the next (1.2 s at 100,000 services, which the first
    lookup by id after each import waited for); an id it does not know (one that import
    added) waits for the next."""

    def __init__(self, *, background: bool = False) -> None:
        self._ids: PerVersion[HsdsIds] = PerVersion("HSDS id index", background=background)

    def get(
        self, version: int, build: Callable[[], HsdsIds],
        build_apart: Callable[[], HsdsIds] | None = None, *, latest: bool = False,
    ) -> HsdsIds:  # fmt: skip
        """The index of ``version`` (built by ``build`` if need be); serving, an earlier
        version's while ``build_apart`` builds it on a thread, unless ``latest``."""
        return self._ids.get(version, build, None if latest else build_apart)[0]

    def wait(self, timeout: float | None = None) -> None:
        self._ids.wait(timeout)


def _theme_terms() -> dict[str, dict[str, Any]]:
    return {
        entry.id: {
            "id": taxonomy_term_uuid(entry.id),
            "code": entry.id,
            "name": entry.name,
            "description": entry.description or entry.name,
            "taxonomy": TAXONOMY_NAME,
            "taxonomy_id": TAXONOMY_ID,
            "term": entry.id,
        }
        for entry in theme_entries()
    }


def _by_id(reads: Reads, kind: str, key: str) -> int | None:
    """Our id of the HSDS record ``key`` of a kind (services, organizations, locations,
    service_at_locations); None for an unknown id, and at once for text that is no UUID
    (without building the index)."""
    try:
        canonical = str(uuid.UUID(key))
    except ValueError:
        return None
    ids = reads.index(False)
    table: IdTable = getattr(ids, kind)
    found = table.get(canonical)
    if ids.version == reads.snap.version.id:
        return found
    # an earlier version's index, while the next is built (seconds at 100,000 services).
    # An import since may have written the record's row afresh (a service's sites are), so
    # the row the index names must still be that record's; and an id it does not know may
    # be of a record added since, whose id of ours is above every one the index has (a few
    # rows read, their ids made at once). Else the next index answers, once built.
    if found is not None and _made_now(reads, kind, ids=[found]).get(canonical) == found:
        return found
    found = _made_now(reads, kind, above=table.last, limit=ADDED_AT_ONCE).get(canonical)
    if found is not None:
        return found
    return getattr(reads.index(True), kind).get(canonical)  # type: ignore[no-any-return]


def _made_now(reads: Reads, kind: str, **rows: Any) -> IdTable:
    """:meth:`HsdsIds.of_rows`, none when there are too many."""
    return HsdsIds.of_rows(reads.repo, kind, **rows) or IdTable([])


#: the most records added since an earlier version's id index whose ids a lookup by id
#: makes there and then (about 30 ms); after a bigger import it waits for the next index
ADDED_AT_ONCE = 10_000


# -- the parts of a reading ------------------------------------------------------------------
@dataclass(frozen=True)
class Reads:
    """What a use case reads through: the HSDS queries, the catalogue's, the geography, and
    the id index (``index`` builds or returns it: only a lookup by id needs it, so a page of
    a list never waits for it; ``index(True)``: the current version's, never an earlier
    one's)."""

    repo: HsdsQueries
    catalogue: CatalogueQueries
    snap: GeographySnapshot
    index: Callable[[bool], HsdsIds]


@dataclass(frozen=True)
class ServiceQuery:
    search: str | None = None
    taxonomy_term_id: str | None = None
    taxonomy_id: str | None = None
    organization_id: str | None = None
    modified_after: str | None = None
    postcode: str | None = None
    proximity: int | None = None
    minimal: bool = False
    full: bool = False
    page: int = 1
    per_page: int = 50


def _invalid(param: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, errors={param: [message]})


def _moment(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def _filters(reads: Reads, geo: GeographyRepository, q: ServiceQuery) -> tuple[Filters, bool]:
    """The search filters of an HSDS query, and whether it asks for any theme at all
    (``taxonomy_id``); a 4xx problem for what cannot match anything by construction."""
    text = searched_for(q.search, "search")
    themes: tuple[str, ...] = ()
    if q.taxonomy_term_id is not None:
        # the term's id, or its code (the theme's id, as /themes lists it)
        asked = q.taxonomy_term_id.strip().lower()
        terms = _theme_terms()
        found = [t for t, term in terms.items() if asked in (term["id"], t)]
        if not found:
            close = difflib.get_close_matches(asked, list(terms), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise _invalid(
                "taxonomy_term_id",
                f"No taxonomy term has the id or code {q.taxonomy_term_id!r}.{hint} See "
                "/api/v1/hsds/taxonomy_terms.",
            )
        themes = (found[0],)
    if q.taxonomy_id is not None and q.taxonomy_id.lower() != TAXONOMY_ID:
        raise _invalid(
            "taxonomy_id",
            f"No taxonomy has the id {q.taxonomy_id!r}: see /api/v1/hsds/taxonomies.",
        )
    org_id = None
    if q.organization_id is not None:
        org_id = _by_id(reads, "organizations", q.organization_id)
        if org_id is None:
            raise OrganisationNotFoundError(
                f"No organization has the id {q.organization_id!r}: see /api/v1/hsds/organizations."
            )
    updated = None
    if q.modified_after is not None:
        try:
            moment = datetime.fromisoformat(moment_text(q.modified_after))
        except ValueError:
            raise _invalid(
                "modified_after",
                "modified_after must be an ISO 8601 date-time (or date), e.g. "
                f"2026-01-31T09:00:00Z; got {q.modified_after[:60]!r}.",
            ) from None
        updated = utc_naive(moment, "modified_after")
    area = near = None
    if q.proximity is not None and q.postcode is None:
        raise _invalid("proximity", "proximity needs a postcode: metres around its centre.")
    if q.postcode is not None:
        place = lookup_postcode(reads.snap, geo, q.postcode)
        if q.proximity is not None:
            near = Near(float(place["easting"]), float(place["northing"]), float(q.proximity))
        else:
            code = (place.get("ward") or {}).get("code") or place["borough"]["code"]
            area = area_match(reads.snap, code)
    return (
        Filters(
            text=text,
            themes=themes,
            organisation_id=org_id,
            updated_since=updated,
            area=area,
            near=near,
        ),  # fmt: skip
        q.taxonomy_id is not None,
    )


# -- objects -----------------------------------------------------------------------------------
def _omit_empty(body: dict[str, Any]) -> dict[str, Any]:
    """ORUK: optional members with no value are left out, not null."""
    return {k: v for k, v in body.items() if v is not None and v != ""}


def organization_body(row: Any) -> dict[str, Any]:
    org_uuid = organization_uuid(row.ref)
    identifiers = [
        {
            "id": hsds_id("organization_identifier", org_uuid, "org-id"),
            "organization_id": org_uuid,
            "identifier_scheme": "org-id",
            "identifier_type": "Org-id (org-id.guide)",
            "identifier": row.ref,
        }
    ]
    if row.charity_number:
        identifiers.append(
            {
                "id": hsds_id("organization_identifier", org_uuid, "charity"),
                "organization_id": org_uuid,
                "identifier_scheme": "GB-CHC",
                "identifier_type": "Charity number",
                "identifier": row.charity_number,
            }
        )
    if row.company_number:
        identifiers.append(
            {
                "id": hsds_id("organization_identifier", org_uuid, "company"),
                "organization_id": org_uuid,
                "identifier_scheme": "GB-COH",
                "identifier_type": "Company number",
                "identifier": row.company_number,
            }
        )
    body = _omit_empty(
        {
            "id": org_uuid,
            "name": row.name,
            "email": row.email,
            "website": row.website,
            "legal_status": LEGAL_STATUS.get(row.type) if row.type else None,
        }
    )
    body["description"] = row.description or ""
    body["organization_identifiers"] = identifiers
    return body


def _address(row: Any) -> dict[str, Any] | None:
    """The site's one address: its text split at the commas (first part ``address_1``, last
    ``city``, the rest ``address_2``; our importer joins them back the same way)."""
    if not row.address and not row.postcode:
        return None
    parts = [p.strip() for p in (row.address or "").split(",") if p.strip()]
    body = {
        "id": hsds_id("address", location_uuid(row.service_ref, row.ref)),
        "location_id": location_uuid(row.service_ref, row.ref),
        "address_1": parts[0] if parts else "",
        "city": parts[-1] if len(parts) > 1 else "",
        "state_province": "London",
        "postal_code": spaced_form(row.postcode or ""),
        "country": "GB",
        "address_type": "physical",
    }
    if len(parts) > 2:
        body["address_2"] = ", ".join(parts[1:-1])
    return body


def location_body(row: Any) -> dict[str, Any]:
    body = _omit_empty(
        {
            "id": location_uuid(row.service_ref, row.ref),
            "location_type": "physical",
            "name": row.name,
            "latitude": row.lat,
            "longitude": row.lon,
            "external_identifier": row.ref,
            "external_identifier_type": "London Funded Services Directory site ref",
        }
    )
    address = _address(row)
    if address is not None:
        body["addresses"] = [address]
    return body


def service_at_location_body(row: Any, *, with_location: bool = True) -> dict[str, Any]:
    body = {
        "id": service_at_location_uuid(row.service_ref, row.ref),
        "service_id": service_uuid(row.service_ref),
        "location_id": location_uuid(row.service_ref, row.ref),
    }
    if with_location:
        body["location"] = location_body(row)
    return body


def _service_area(snap: GeographySnapshot, service_ref: str, code: str) -> dict[str, Any]:
    area = snap.areas.get(code)
    name = area.name if area is not None else code
    body: dict[str, Any] = {
        "id": hsds_id("service_area", service_uuid(service_ref), code),
        "name": name,
    }
    if code[:1] in "EWSNK" and code[1:].isdigit() and len(code) == 9:
        body.update(extent=code, extent_type="gss_code", uri=_ONS_GSS + code)
        if area is not None:
            body["description"] = f"{area.name} ({area.type}, GSS code {code})"
    elif area is not None:
        body["description"] = f"{area.name} ({area.type}, {code})"
    body["service_area"] = name
    return body


def _money(pence: int | None, currency: str) -> str | None:
    if pence is None:
        return None
    symbol = "£" if currency == "GBP" else f"{currency} "
    return f"{symbol}{pence / 100:,.2f}".replace(".00", "")


def _funding(grant: Any, service_ref: str) -> dict[str, Any]:
    """A grant as HSDS funding: one ``source`` text (HSDS has no amount, date or funder
    member; the ORUK profile asks for them upstream)."""
    parts = [grant.funder_name]
    if grant.programme_name or grant.programme_id:
        parts.append(grant.programme_name or grant.programme_id)
    if grant.title:
        parts.append(grant.title)
    money = _money(grant.amount_pence, grant.currency)
    if money:
        parts.append(money)
    if grant.start or grant.end:
        parts.append(f"{grant.start.isoformat() if grant.start else '?'} to "
                     f"{grant.end.isoformat() if grant.end else '?'}")  # fmt: skip
    elif grant.awarded:
        parts.append(f"awarded {grant.awarded.isoformat()}")
    parts.append(f"grant {grant.ref}")
    return {
        "id": hsds_id("funding", grant.ref, service_uuid(service_ref)),
        "service_id": service_uuid(service_ref),
        "source": "; ".join(parts),
    }


def _contact(row: Any, snap: GeographySnapshot, service_ref: str) -> dict[str, Any]:
    area = snap.areas.get(row.area_code)
    where = area.name if area is not None else row.area_code
    key = (service_uuid(service_ref), row.area_code, row.role)
    contact_id = hsds_id("contact", *key)
    body = _omit_empty(
        {
            "id": contact_id,
            "service_id": service_uuid(service_ref),
            "name": row.name,
            "title": f"{row.role}, {where}",
            "email": row.email,
        }
    )
    if row.phone:
        body["phones"] = [{"id": hsds_id("contact_phone", *key), "contact_id": contact_id,
                           "number": row.phone}]  # fmt: skip
    return body


def _service_base(row: Any, org_ref: str) -> dict[str, Any]:
    return _omit_empty(
        {
            "id": service_uuid(row.ref),
            "organization_id": organization_uuid(org_ref),
            "name": row.name,
            "description": row.description,
            "url": row.website,
            "email": row.email,
            "status": row.status,
            "eligibility_description": row.eligibility,
            "application_process": row.referral,
            "minimum_age": row.min_age,
            "maximum_age": row.max_age,
            "assured_date": row.last_verified.isoformat() if row.last_verified else None,
            "last_modified": _moment(row.updated_at),
        }
    )


def _services(reads: Reads, ids: Sequence[int], *, full: bool) -> list[dict[str, Any]]:
    """The HSDS objects of the services ``ids``, in that order (less any removed meanwhile)."""
    return list(_service_bodies(reads, ids, full=full).values())


def _service_bodies(reads: Reads, ids: Sequence[int], *, full: bool) -> dict[int, dict[str, Any]]:
    """The HSDS objects of the services ``ids`` by database id, in the order given: one
    query per related table for the whole page."""
    rows = {r.id: r for r in reads.catalogue.services(ids)}
    ids = [i for i in ids if i in rows]  # removed meanwhile
    orgs = reads.repo.organisations({rows[i].organisation_id for i in ids})
    out: dict[int, dict[str, Any]] = {}
    if not full:
        for i in ids:
            body = _service_base(rows[i], rows[i].organisation_ref)
            org = organization_body(orgs[rows[i].organisation_id])
            body["organization"] = _list_organization(org)
            out[i] = body
        return out
    q = reads.catalogue
    themes, coverage = q.themes_of(ids), q.coverage_of(ids)
    sites, grants = q.locations_of(ids), q.grants_of(ids)
    areas = set().union(*coverage.values()) if coverage else set()
    for i in ids:
        areas |= {s.borough_code for s in sites[i] if s.borough_code}
    contacts: dict[str, list[Any]] = {}
    for c in q.contacts_for(areas):
        contacts.setdefault(c.area_code, []).append(c)
    terms = _theme_terms()
    for i in ids:
        row = rows[i]
        body = _service_base(row, row.organisation_ref)
        if row.phone:
            body["phones"] = [{"id": hsds_id("service_phone", service_uuid(row.ref)), "service_id": body["id"],
                               "number": row.phone}]  # fmt: skip
        body["organization"] = organization_body(orgs[row.organisation_id])
        body["service_areas"] = [_service_area(reads.snap, row.ref, c) for c in coverage[i]]
        located = [_Site(row.ref, s) for s in sites[i]]
        body["service_at_locations"] = [service_at_location_body(s) for s in located]
        body["attributes"] = [
            {
                "id": hsds_id("attribute", body["id"], t),
                "link_id": body["id"],
                "link_type": "service",
                "link_entity": "service",
                "taxonomy_term_id": terms[t]["id"],
                "taxonomy_term": terms[t],
            }
            for t in themes[i]
            if t in terms
        ]
        body["funding"] = [_funding(g, row.ref) for g in grants[i]]
        served = sorted(set(coverage[i]) | {s.borough_code for s in sites[i] if s.borough_code})
        body["contacts"] = [
            _contact(c, reads.snap, row.ref) for code in served for c in contacts.get(code, [])
        ]
        _add_extras(body, row.hsds_extras)
        out[i] = body
    return out


def _add_extras(body: dict[str, Any], extras: dict[str, Any] | None) -> None:
    """What an HSDS import kept (service.hsds_extras) back in the service: text members
    the body lacks, the lists as read, and funding and contacts after ours (one per id)."""
    for key, value in (extras or {}).items():
        if key in ("funding", "contacts"):
            known = {item["id"] for item in body[key]}
            body[key] = body[key] + [item for item in value if item.get("id") not in known]
        elif key not in body:
            body[key] = value


def _list_organization(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "organization_identifiers"}


class _Site:
    """A delivery site row with its service's ref (what the location bodies need)."""

    def __init__(self, service_ref: str, row: Any) -> None:
        self._row = row
        self.service_ref = service_ref

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _page(contents: list[dict[str, Any]], total: int, page: int, per_page: int) -> dict[str, Any]:
    return envelope(contents, total_items=total, page=page, per_page=per_page)


# -- the use cases -----------------------------------------------------------------------------
def root(openapi_url: str) -> dict[str, Any]:
    return {"version": HSDS_VERSION, "profile": PROFILE_URL, "openapi_url": openapi_url}


def list_services(reads: Reads, geo: GeographyRepository, q: ServiceQuery) -> dict[str, Any]:
    """A page of services matching every filter given (AND), by name: the list objects
    (with their organisation), the full objects with ``full``, or only id, name, status
    and last_modified with ``minimal``."""
    if q.minimal and q.full:
        raise _invalid("minimal", "minimal and full cannot both be true.")
    f, any_theme = _filters(reads, geo, q)
    offset = (q.page - 1) * q.per_page
    ids, total = reads.repo.service_page(f, any_theme=any_theme, offset=offset, limit=q.per_page)
    if q.minimal:
        rows = {r.id: r for r in reads.catalogue.services(ids)}
        contents = [
            {"id": service_uuid(rows[i].ref), "name": rows[i].name, "status": rows[i].status,
             "last_modified": _moment(rows[i].updated_at)}
            for i in ids if i in rows
        ]  # fmt: skip
    else:
        contents = _services(reads, ids, full=q.full)
    return _page(contents, total, q.page, q.per_page)


def get_service(reads: Reads, key: str) -> dict[str, Any]:
    service_id = _by_id(reads, "services", key)
    found = _services(reads, [service_id], full=True) if service_id is not None else []
    if not found:
        raise ServiceNotFoundError(f"No service has the id {key!r}.")
    return found[0]


def list_service_at_locations(
    reads: Reads, geo: GeographyRepository, q: ServiceQuery
) -> dict[str, Any]:
    """A page of service-at-locations (one per delivery site of a matching service), with
    their location; with ``full``, with their service too."""
    f, any_theme = _filters(reads, geo, q)
    offset = (q.page - 1) * q.per_page
    rows, total = reads.repo.location_page(f, any_theme=any_theme, offset=offset, limit=q.per_page)
    contents = [service_at_location_body(r) for r in rows]
    if q.full and rows:
        services = _services(reads, sorted({r.service_id for r in rows}), full=True)
        by_id = {s["id"]: s for s in services}
        for body in contents:
            body["service"] = by_id[body["service_id"]]
    return _page(contents, total, q.page, q.per_page)


def _location_row(reads: Reads, kind: str, key: str, what: str) -> Any:
    location_id = _by_id(reads, kind, key)
    rows = reads.repo.locations([location_id]) if location_id is not None else []
    if not rows:
        raise NotFoundError(f"No {what} has the id {key!r}.")
    return rows[0]


def get_service_at_location(reads: Reads, key: str) -> dict[str, Any]:
    row = _location_row(reads, "service_at_locations", key, "service_at_location")
    body = service_at_location_body(row)
    body["service"] = get_service(reads, body["service_id"])
    return body


def list_locations(reads: Reads, geo: GeographyRepository, q: ServiceQuery) -> dict[str, Any]:
    """A page of locations (the delivery sites of matching services)."""
    f, any_theme = _filters(reads, geo, q)
    offset = (q.page - 1) * q.per_page
    rows, total = reads.repo.location_page(f, any_theme=any_theme, offset=offset, limit=q.per_page)
    return _page([location_body(r) for r in rows], total, q.page, q.per_page)


def get_location(reads: Reads, key: str) -> dict[str, Any]:
    return location_body(_location_row(reads, "locations", key, "location"))


def list_organizations(
    reads: Reads, *, search: str | None, full: bool, page: int, per_page: int
) -> dict[str, Any]:
    """A page of the organisations running listed services, by name; with ``full``, each
    with its services (list objects)."""
    text = searched_for(search, "search")
    rows, total = reads.repo.organisation_page(
        text=text, offset=(page - 1) * per_page, limit=per_page
    )
    contents = [
        organization_body(r) if full else _list_organization(organization_body(r)) for r in rows
    ]
    if full and rows:
        _attach_services(reads, rows, contents)
    return _page(contents, total, page, per_page)


def _attach_services(reads: Reads, rows: Sequence[Any], bodies: list[dict[str, Any]]) -> None:
    """Each organisation's listed services (list objects, without the organisation)."""
    services_of = reads.repo.services_of_organisations([r.id for r in rows])
    all_ids = [i for r in rows for i in services_of.get(r.id, [])]
    services = _service_bodies(reads, all_ids, full=False)
    for row, body in zip(rows, bodies, strict=True):
        body["services"] = [
            {k: v for k, v in services[i].items() if k != "organization"}
            for i in services_of.get(row.id, [])
            if i in services
        ]


def moved_organization(reads: Reads, key: str) -> str | None:
    """The HSDS id of the organisation ``key`` names now, when ``key`` is the id made from
    the ref of an organisation merged into it (``organisation_alias``) and of no
    organisation held; else None."""
    try:
        canonical = str(uuid.UUID(key))
    except ValueError:
        return None
    if _by_id(reads, "organizations", canonical) is not None:
        return None
    for alias in reads.repo.organisation_aliases():
        if organization_uuid(alias.ref) == canonical:
            return organization_uuid(alias.organisation_ref)
    return None


def get_organization(reads: Reads, key: str) -> dict[str, Any]:
    org_id = _by_id(reads, "organizations", key)
    rows = reads.repo.organisations([org_id]) if org_id is not None else {}
    if not rows:
        raise OrganisationNotFoundError(f"No organization has the id {key!r}.")
    row = rows[org_id]  # type: ignore[index]
    body = organization_body(row)
    _attach_services(reads, [row], [body])
    return body


def _taxonomy() -> dict[str, Any]:
    return {
        "id": TAXONOMY_ID,
        "name": TAXONOMY_NAME,
        "description": TAXONOMY_DESCRIPTION,
        "version": TAXONOMY_VERSION,
    }


def list_taxonomies(*, page: int, per_page: int) -> dict[str, Any]:
    items = [_taxonomy()]
    start = (page - 1) * per_page
    return _page(items[start : start + per_page], len(items), page, per_page)


def get_taxonomy(key: str) -> dict[str, Any]:
    if key.lower() != TAXONOMY_ID:
        raise NotFoundError(f"No taxonomy has the id {key!r}.")
    return _taxonomy()


def list_taxonomy_terms(
    *, search: str | None, taxonomy_id: str | None, page: int, per_page: int
) -> dict[str, Any]:
    terms = list(_theme_terms().values())
    if taxonomy_id is not None and taxonomy_id.lower() != TAXONOMY_ID:
        terms = []  # (a filter on the terms, as Open Referral's validators ask it: none)
    text = searched_for(search, "search")
    if text:
        words = text.lower().split()
        terms = [
            t for t in terms
            if all(w in f"{t['name']} {t['description']} {t['code']}".lower() for w in words)
        ]  # fmt: skip
    start = (page - 1) * per_page
    return _page(terms[start : start + per_page], len(terms), page, per_page)


def get_taxonomy_term(key: str) -> dict[str, Any]:
    for term in _theme_terms().values():
        if term["id"] == key.lower():
            return term
    raise NotFoundError(f"No taxonomy term has the id {key!r}.")
