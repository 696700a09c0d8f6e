"""Read services published as Open Referral HSDS 3.0 JSON.

Accepted shapes: a list of service objects, one page of the HSDS API (``{"contents":
[...], "total_items": ...}``), or a single service object. Each service must be the full
HSDS 3.0 ``service`` object (``/services/{id}``), with its ``organization``,
``service_areas``, ``service_at_locations`` (each with its ``location``), ``phones`` and
``attributes`` nested.

Mapping decisions:

* ``ServiceRecord`` from the service; ``OrganisationRecord`` from the nested
  ``organization`` (one per distinct id, fields merged). A service that only names its
  ``organization_id`` is linked to that organisation, which must already be known.
* Themes come from ``attributes[].taxonomy_term``: its ``name``, then ``code`` (and the
  HSDS 2 ``term``) go through ``Context.themes``; a term no theme matches is a warning.
* Coverage comes from ``service_areas[]``: a GSS code at the end of the area's ``uri``,
  else its ``name``, else its ``description``, else a plain-text ``extent`` (not a
  GeoJSON/KML polygon), through ``Context.areas``. An area that cannot be resolved is an
  error.
* Locations come from ``service_at_locations[].location`` (virtual locations are skipped):
  name, first address (``address_1``, ``address_2``, ``city``), its ``postal_code``
  through ``Context.postcode``, and the location's own ``latitude``/``longitude`` when
  they are valid. A postcode that cannot be resolved is a warning and the address is
  kept without it.
* Contact details (email, website, phone) and ``assured_date`` are worth a warning, not a
  refused file, when they are malformed: the bad value is left out.
* ``assured_date`` is when the service was last verified; a service without one keeps the
  date held, or none (``last_modified``, when its record last changed, is no check).
* What has no column of ours is kept as read in ``service.hsds_extras`` and served back
  by the HSDS API (``/api/v1/hsds/services/{id}``) and in ``/api/v1/services/{id}``:
  ``schedules``, ``languages``, ``cost_options``, ``required_documents``, ``funding`` and
  ``contacts`` (each object with an ``id``; funding and contacts with their HSDS members
  only), and the text of ``alternate_name``, ``fees``, ``fees_description``,
  ``accreditations``, ``alert``, ``wait_time``, ``interpretation_services`` and
  ``licenses``. ``application_process`` is who can refer.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from directory.ingest.giving360 import (
    MAX_TEXT,
    UNREADABLE,
    RowProblems,
    blank,
    guess_organisation_type,
    load_json,
    may_hold_unstorable,
    merge_organisation,
    stored_limits,
    unstorable_text,
)
from directory.ingest.records import (
    SERVICE_STATUSES,
    Batch,
    Context,
    LocationRecord,
    OrganisationRecord,
    ServiceRecord,
)
from directory.ingest.values import parse_email, parse_int, parse_url, parse_verified
from directory.store.models import Location, Organisation, Service

_GSS = re.compile(r"\b([EWSNK]\d{8})\b")
_POLYGON_TYPES = ("geojson", "topojson", "kml", "wkt", "gml")
_CHARITY_SCHEMES = ("GB-CHC", "GB-SC", "GB-NIC")
_OLDEST = 120
#: the service's fields the database keeps no more than so much of
_LIMITS = stored_limits(
    {
        "id": Service.__table__.c.ref,
        "name": Service.__table__.c.name,
        "email": Service.__table__.c.email,
        "url": Service.__table__.c.website,
        "organization_id": Organisation.__table__.c.ref,
        "organization.id": Organisation.__table__.c.ref,
        "organization.name": Organisation.__table__.c.name,
        "organization.website": Organisation.__table__.c.website,
        "organization.email": Organisation.__table__.c.email,
        "organization.organization_identifiers[].identifier": (
            Organisation.__table__.c.charity_number
        ),
        "service_at_locations[].id": Location.__table__.c.ref,
        "service_at_locations[].location.id": Location.__table__.c.ref,
        "service_at_locations[].location.name": Location.__table__.c.name,
    }
)
#: what a service with no assured_date leaves as held (ServiceRecord.kept)
_UNVERIFIED = frozenset({"last_verified"})
#: service members kept as read (service.hsds_extras) and served back by the HSDS API
EXTRA_TEXTS = (
    "alternate_name", "fees", "fees_description", "accreditations", "alert", "wait_time",
    "interpretation_services", "licenses",
)  # fmt: skip
EXTRA_LISTS = (
    "schedules", "languages", "cost_options", "required_documents", "funding", "contacts",
)  # fmt: skip
#: the members kept of objects the API lists beside its own (its grants, patch contacts)
KEPT_MEMBERS = {
    "funding": frozenset({"id", "organization_id", "service_id", "source"}),
    "contacts": frozenset(
        {"id", "organization_id", "service_id", "name", "title", "department", "email", "phones"}
    ),
}
PHONE_MEMBERS = frozenset({"id", "contact_id", "number", "extension", "type", "description"})
#: the most JSON one service's extras may take (characters)
MAX_EXTRAS = 200_000


def read_hsds_json(data: bytes | str, ctx: Context) -> Batch:
    """Read Open Referral HSDS 3.0 services. Problems name the service's position (``row``,
    from 1) and its JSON path (``contents[0].service_areas[1].name``)."""
    batch = Batch()
    document = load_json(data, batch)
    if document is UNREADABLE:
        return batch
    if isinstance(document, list):
        services, prefix = document, ""
    elif isinstance(document, dict) and "contents" in document:
        services, prefix = document["contents"], "contents"
        if not isinstance(services, list):
            batch.error('"contents" must be a list of services.', column="contents")
            return batch
    elif isinstance(document, dict) and ("id" in document or "name" in document):
        services, prefix = [document], None
    else:
        batch.error(
            "Not Open Referral HSDS services: expected a list of services, a page with "
            '"contents", or one service object.'
        )
        return batch
    if not services:
        batch.error("The file contains no services.")
        return batch
    reader = _ServiceReader(ctx, batch)
    screen = may_hold_unstorable(data)
    for index, service in enumerate(services):
        base = "" if prefix is None else f"{prefix}[{index}]"

        def column(path: str, base: str = base) -> str:
            return _join(base, path)

        if not (screen and unstorable_text(batch, service, index + 1, column)):
            reader.service(service, index + 1, column)
    batch.organisations.extend(reader.orgs.values())
    return batch


def _join(base: str, path: str) -> str:
    if not base:
        return path
    return f"{base}.{path}" if path else base


class _ServiceReader:
    def __init__(self, ctx: Context, batch: Batch) -> None:
        self.ctx = ctx
        self.batch = batch
        self.orgs: dict[str, OrganisationRecord] = {}
        self.seen: dict[str, int] = {}

    def service(self, raw: Any, row: int, column: Any) -> None:
        p = RowProblems(self.batch, row, column, _LIMITS)
        if not isinstance(raw, dict):
            p.error("", "Each service must be a JSON object.", raw)
            return
        given = p.ref("id", raw.get("id"), missing="The service has no identifier (id).")
        ref = self._held("service", given)
        #: the id this directory made from a service's ref (its own export, read back)
        ours = given if ref != given else None
        if ref is not None and ref in self.seen:
            also = "" if ours is None else f" (its id {ours} is this directory's for it)"
            p.error(
                "id",
                f"Service {ref} appears more than once{also} (first at row {self.seen[ref]}).",
                given,
            )
            return
        if ref is not None:
            self.seen[ref] = row
        name = p.text("name", raw.get("name"), missing="The service has no name.")
        status = p.parse("status", raw.get("status"), _status)
        if status is None and blank(raw.get("status")):
            p.warning("status", "The service has no status: it is taken to be active.")

        organisation, org_record = self._organisation(p, raw)
        min_age = p.parse("minimum_age", raw.get("minimum_age"), _age)
        max_age = p.parse("maximum_age", raw.get("maximum_age"), _age)
        if min_age is not None and max_age is not None and min_age > max_age:
            p.error(
                "maximum_age", f"The maximum age is below the minimum age ({min_age}).", max_age
            )

        # when someone last checked the service: its assured_date alone (last_modified is
        # when the record last changed, not a check); without one the date held is kept
        last_verified = p.parse("assured_date", raw.get("assured_date"), parse_verified, warn=True)

        record = ServiceRecord(
            ref=ref or "",
            name=name or "",
            organisation_ref=organisation or "",
            description=p.text("description", raw.get("description"), MAX_TEXT),
            status=status or "active",
            themes=self._themes(p, raw.get("attributes")),
            coverage=self._coverage(p, raw.get("service_areas")),
            locations=self._locations(p, raw.get("service_at_locations"), ref),
            min_age=min_age,
            max_age=max_age,
            eligibility=p.text(
                "eligibility_description", raw.get("eligibility_description"), MAX_TEXT
            ),
            referral=p.text("application_process", raw.get("application_process"), MAX_TEXT),
            email=p.parse("email", raw.get("email"), parse_email, warn=True),
            phone=self._phone(p, raw.get("phones")),
            website=p.parse("url", raw.get("url"), parse_url, warn=True),
            last_verified=last_verified,
            hsds_extras=self._extras(p, raw, ours),
            kept=_UNVERIFIED if last_verified is None else frozenset(),
        )
        if not record.coverage and not record.locations and not p.failed:
            p.warning(
                "service_areas",
                "The service has no service area and no location: it will not show on any area.",
            )
        if p.failed:
            return
        self.batch.services.append(record)
        if org_record is not None:
            merge_organisation(self.orgs, org_record)

    # -- organisation ----------------------------------------------------------------------
    def _organisation(
        self, p: RowProblems, raw: dict[str, Any]
    ) -> tuple[str | None, OrganisationRecord | None]:
        """The service's organisation ref, and the record of its nested organisation."""
        given = self._held("organization", p.ref("organization_id", raw.get("organization_id")))
        org = raw.get("organization")
        if blank(org) or org == {}:
            if given is None and blank(raw.get("organization_id")):
                p.error(
                    "organization_id",
                    "The service names no organisation (organization or organization_id).",
                )
            return given, None
        if not isinstance(org, dict):
            p.error("organization", "The organisation must be a JSON object.", org)
            return None, None
        ref = self._held(
            "organization",
            p.ref("organization.id", org.get("id"), missing="The organisation has no identifier."),
        )
        if ref is None:
            return None, None
        if given is not None and given != ref:
            p.error(
                "organization_id",
                f"organization_id ({given}) is not the id of the nested organization ({ref}).",
                given,
            )
            return None, None
        name = p.text("organization.name", org.get("name"))
        if name is None:
            p.warning("organization.name", "The organisation has no name: its identifier is used.")
            name = ref
        charity, company = self._identifiers(p, org.get("organization_identifiers"))
        record = OrganisationRecord(
            ref=ref,
            name=name,
            type=_organisation_type(ref, name, charity, org.get("legal_status")),
            charity_number=charity,
            company_number=company,
            website=p.parse("organization.website", org.get("website"), parse_url, warn=True),
            email=p.parse("organization.email", org.get("email"), parse_email, warn=True),
            description=p.text("organization.description", org.get("description"), MAX_TEXT),
        )
        return ref, record

    def _identifiers(self, p: RowProblems, value: Any) -> tuple[str | None, str | None]:
        charity = company = None
        for path, ident in p.objects("organization.organization_identifiers", value):
            scheme = p.text(f"{path}.identifier_scheme", ident.get("identifier_scheme"), 40) or ""
            kind = (
                p.text(f"{path}.identifier_type", ident.get("identifier_type"), 100) or ""
            ).lower()
            a_charity = charity is None and (
                scheme.upper() in _CHARITY_SCHEMES or "charity" in kind
            )
            a_company = company is None and (scheme.upper() == "GB-COH" or "company" in kind)
            if not (a_charity or a_company):  # (not read: an org-id, ours, may be longer)
                continue
            number = p.text(f"{path}.identifier", ident.get("identifier"), 40)
            if number is None:
                continue
            if a_charity:
                charity = number
            else:
                company = number
        return charity, company

    # -- themes, areas, locations -------------------------------------------------------------
    def _themes(self, p: RowProblems, value: Any) -> list[str]:
        themes: list[str] = []
        for path, attribute in p.objects("attributes", value):
            term = attribute.get("taxonomy_term")
            if not isinstance(term, dict):
                continue
            texts = [
                (key, p.text(f"{path}.taxonomy_term.{key}", term.get(key)))
                for key in ("name", "code", "term")
            ]
            texts = [(key, text) for key, text in texts if text]
            if not texts:
                continue
            found = None
            for _key, text in texts:
                try:
                    found = self.ctx.themes(text)
                    break
                except ValueError:
                    continue
            if found is None:
                key, text = texts[0]
                p.warning(
                    f"{path}.taxonomy_term.{key}",
                    "No theme matches this taxonomy term: it is not recorded.",
                    text,
                )
                continue
            for theme in found:
                if theme not in themes:
                    themes.append(theme)
        return themes

    def _coverage(self, p: RowProblems, value: Any) -> list[str]:
        codes: list[str] = []
        for path, area in p.objects("service_areas", value):
            found = self._area(p, path, area)
            for code in found or []:
                if code not in codes:
                    codes.append(code)
        return codes

    def _area(self, p: RowProblems, path: str, area: dict[str, Any]) -> list[str] | None:
        uri = p.text(f"{path}.uri", area.get("uri"), 1000)
        if uri:
            match = _GSS.search(uri.upper())
            code = self.ctx.area_code(match.group(1)) if match else None
            if code is not None:
                return [code]
        candidates = []
        for key in ("name", "description"):
            text = p.text(f"{path}.{key}", area.get(key), MAX_TEXT)
            if text:
                candidates.append((key, text))
        extent_type = str(area.get("extent_type") or "").strip().lower()
        extent = area.get("extent")
        if (
            isinstance(extent, str)
            and extent.strip()
            and extent_type not in _POLYGON_TYPES
            and not extent.lstrip().startswith(("{", "<", "["))
        ):
            candidates.append(("extent", extent.strip()))
        if not candidates:
            p.error(path, "The service area has no name, description or GSS code to place it by.")
            return None
        first_error = None
        for key, text in candidates:
            try:
                return self.ctx.areas(text)
            except ValueError as exc:
                first_error = first_error or (key, text, str(exc))
        key, text, message = first_error
        p.error(f"{path}.{key}", message, text)
        return None

    def _held(self, kind: str, ref: str | None) -> str | None:
        """The ref, or the ref of ours it was made from (this directory's own export, read
        back: the same records, not copies under the same Open Referral ids)."""
        return None if ref is None else self.ctx.held_ref(kind, ref) or ref

    def _locations(
        self, p: RowProblems, value: Any, service_ref: str | None
    ) -> list[LocationRecord]:
        """The service's locations; one whose id this directory made from a site is read
        by that site's ref (the same site, or under another service a site of its own)."""
        locations: list[LocationRecord] = []
        refs: set[str] = set()
        for path, link in p.objects("service_at_locations", value):
            location = link.get("location")
            if not isinstance(location, dict):
                if not blank(link.get("location_id")):
                    p.warning(
                        f"{path}.location_id",
                        "The location is given only by its id, without its details: not recorded.",
                        link.get("location_id"),
                    )
                elif location is not None:
                    p.error(f"{path}.location", "The location must be a JSON object.", location)
                continue
            lpath = f"{path}.location"
            if str(location.get("location_type") or "").strip().lower() == "virtual":
                continue
            ref = p.ref(f"{lpath}.id", location.get("id")) or p.ref(f"{path}.id", link.get("id"))
            if ref is None:
                p.error(f"{lpath}.id", "The location has no identifier.")
                continue
            site = self.ctx.held_site(ref)
            if site is not None:  # (under another service, the site's ref gives another id)
                ref = site[1]
            if ref in refs:
                continue
            refs.add(ref)
            record = LocationRecord(ref=ref, name=p.text(f"{lpath}.name", location.get("name")))
            addresses = p.objects(f"{lpath}.addresses", location.get("addresses"))
            if addresses:
                apath, address = addresses[0]
                lines = [
                    p.text(f"{apath}.{key}", address.get(key))
                    for key in ("address_1", "address_2", "city")
                ]
                record.address = ", ".join(line for line in lines if line) or None
                postcode = p.text(f"{apath}.postal_code", address.get("postal_code"), 40)
                if postcode:
                    try:
                        found = self.ctx.postcode(postcode)
                    except ValueError as exc:
                        p.warning(
                            f"{apath}.postal_code",
                            f"{exc} The address is kept without a postcode.",
                            postcode,
                        )
                    else:
                        record.postcode, record.lat, record.lon = (
                            found.postcode,
                            found.lat,
                            found.lon,
                        )
            lat = p.parse(f"{lpath}.latitude", location.get("latitude"), _latitude, warn=True)
            lon = p.parse(f"{lpath}.longitude", location.get("longitude"), _longitude, warn=True)
            if lat is not None and lon is not None:
                record.lat, record.lon = lat, lon
            if record.address is None and record.postcode is None and record.lat is None:
                p.warning(
                    lpath,
                    "The location has no address, postcode or coordinates: it is not recorded.",
                )
                continue
            locations.append(record)
        return locations

    def _extras(
        self, p: RowProblems, raw: dict[str, Any], ours: str | None
    ) -> dict[str, Any] | None:
        """What has no column of ours, kept as read: the text members of
        :data:`EXTRA_TEXTS`, and the objects of :data:`EXTRA_LISTS` that have an ``id``
        (funding and contacts with their HSDS members only, see :data:`KEPT_MEMBERS`). A
        service read back from this directory's export (``ours``: the id it made) keeps
        none of the funding and contacts the export made from its grants and patch
        contacts: they are served from those, and a copy would outlive them."""
        extras: dict[str, Any] = {}
        for key in EXTRA_TEXTS:
            text = p.text(key, raw.get(key), MAX_TEXT)
            if text is not None:
                extras[key] = text
        for key in EXTRA_LISTS:
            kept = []
            for path, item in p.objects(key, raw.get(key)):
                if not isinstance(item.get("id"), str) or not item["id"].strip():
                    p.warning(f"{path}.id", "An HSDS object without an id: it is not kept.")
                    continue
                if ours is not None and self.ctx.made_here(key, item, ours):
                    continue
                kept.append(_as_json(_members(key, item)))
            if kept:
                extras[key] = kept
        if not extras:
            return None
        size = len(json.dumps(extras))
        if size > MAX_EXTRAS:
            p.warning(
                "",
                f"The service's schedules, languages, cost options, funding and contacts take "
                f"{size:,} characters of JSON; at most {MAX_EXTRAS:,} are kept: they are left out.",
            )
            return None
        return extras

    def _phone(self, p: RowProblems, value: Any) -> str | None:
        for path, phone in p.objects("phones", value):
            number = p.text(f"{path}.number", phone.get("number"), 40)
            if number:
                number = number.strip("\"' ")
                if (
                    re.fullmatch(r"[+0-9 ()\-]{6,40}", number)
                    and sum(c.isdigit() for c in number) >= 6
                ):
                    return number
                p.warning(f"{path}.number", "Not a phone number: it is left out.", number)
        return None


def _members(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """An object as read, or for funding and contacts (which the API merges with its own)
    with the HSDS 3.0 members the API documents only."""
    members = KEPT_MEMBERS.get(key)
    if members is None:
        return item
    kept = {k: v for k, v in item.items() if k in members and v is not None}
    if key == "contacts" and isinstance(kept.get("phones"), list):
        kept["phones"] = [
            {k: v for k, v in phone.items() if k in PHONE_MEMBERS and v is not None}
            for phone in kept["phones"]
            if isinstance(phone, dict) and isinstance(phone.get("id"), str)
        ]
    return kept


def _as_json(value: Any) -> Any:
    """``value`` as read (the file's numbers are read as Decimal, to keep their digits)
    with each number one JSON can hold again: a whole one as an int, any other as a float;
    one no float can hold (``1e999``) as its text."""
    if isinstance(value, dict):
        return {key: _as_json(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_as_json(member) for member in value]
    if isinstance(value, Decimal):
        if -(10**18) < value < 10**18 and value == int(value):  # (1e999999999's int: not made)
            return int(value)
        number = float(value)
        return number if math.isfinite(number) else str(value)
    return value


def _status(value: Any) -> str:
    text = " ".join(str(value).replace("_", " ").split()).lower() if isinstance(value, str) else ""
    if text not in SERVICE_STATUSES:
        raise ValueError(
            "Not an HSDS service status: use one of " + ", ".join(SERVICE_STATUSES) + "."
        )
    return text


def _age(value: Any) -> int:
    age = parse_int(value)
    if not 0 <= age <= _OLDEST:
        raise ValueError(f"'{age}' is not an age: ages go from 0 to {_OLDEST}")
    return age


def _coordinate(value: Any, limit: int, what: str) -> float:
    if isinstance(value, bool | dict | list):
        raise ValueError(f"The {what} must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"The {what} must be a number.") from None
    except OverflowError:  # (a whole number too large for a float)
        raise ValueError(
            f"The {what} must be between -{limit} and {limit}; it is ignored."
        ) from None
    if not -limit <= number <= limit:  # also false for NaN
        raise ValueError(
            f"'{value}' is not a {what}: it must be between -{limit} and {limit}; it is ignored."
        )
    return number


def _latitude(value: Any) -> float:
    return _coordinate(value, 90, "latitude")


def _longitude(value: Any) -> float:
    return _coordinate(value, 180, "longitude")


_LEGAL_TYPES = (
    (
        re.compile(
            r"\b(charit|cio\b|community interest|cic\b|voluntary|not[- ]for[- ]profit|non[- ]profit"
            r"|limited by guarantee|social enterprise|community group)",
            re.I,
        ),
        "voluntary",
    ),
    (re.compile(r"\b(council|local authority|borough)\b", re.I), "council"),
    (re.compile(r"\bnhs\b", re.I), "nhs"),
    (re.compile(r"\bpolic(e|ing)\b", re.I), "police"),
    (re.compile(r"\b(school|academy|college|university)\b", re.I), "education"),
    (re.compile(r"\b(plc|private limited|sole trader|partnership)\b", re.I), "business"),
)


def _organisation_type(ref: str, name: str, charity: str | None, legal_status: Any) -> str | None:
    found = guess_organisation_type(ref, name, charity)
    if found is not None or not isinstance(legal_status, str):
        return found
    for pattern, kind in _LEGAL_TYPES:
        if pattern.search(legal_status):
            return kind
    return None
