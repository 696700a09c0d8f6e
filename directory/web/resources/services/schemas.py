from __future__ import annotations

import marshmallow as ma

from directory.ingest.records import SERVICE_STATUSES
from directory.store.repositories.search import SORTS
from directory.usecases.search import DEFAULT_RADIUS_M, MAX_FUNDING_DAYS, MAX_RADIUS_M
from directory.web.api import JsonBoolean, JsonInteger, JsonNumber, Schema
from directory.web.resources.common import (
    AreaRefSchema,
    ContactSchema,
    PageArgsSchema,
    PageSchema,
    ProgrammeId,
    ServiceContactSchema,
    SiteSchema,
    live_on_field,
)
from directory.web.resources.grants.schemas import GrantSchema
from directory.web.resources.outcomes.schemas import (
    AFTER_FUNDING_MONTHS,
    MeasuredSchema,
    OutcomeServiceSchema,
)


class ServiceListArgsSchema(PageArgsSchema):
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "Text search over the service name, organisation name, description "
            'and theme names; results carry a `rank`. Every word (or "phrase") must start '
            "a word of the text (`ment` finds mentoring; `men` not women), `-word` excludes; "
            "case, accents and apostrophes aside. PostgreSQL: web-search syntax "
            '(`youth mentoring`, `"knife crime"`, `-helpline`, `or`), a word also matching by '
            "its English stem (`mentoring` finds mentors), ranked by ts_rank with words in the "
            "service name weighted 10x. SQLite: `or` is "
            "left out; rank = 3 per word in the name + 1 in the organisation name + 1 in the "
            "description."
        },
    )
    status = ma.fields.String(
        validate=ma.validate.OneOf(SERVICE_STATUSES),
        metadata={"description": "Only services with this status"},
    )
    theme = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        metadata={"description": "Theme id (repeatable; all must match). See /api/v1/themes"},
    )
    organisation = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Organisation id or ref"},
    )
    programme = ProgrammeId(
        validate=ma.validate.Length(min=1, max=80),
        metadata={
            "description": "Programme id (e.g. `vru`, `snb`): services with a non-withdrawn "
            "grant in it. With `live_on` / `funding_ends_within`, one grant must meet them all."
        },
    )
    include_withdrawn = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Also list services their source no longer lists"},
    )
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": "Area code (any case: E12000007, E23000001, bcu-…, E09…, E05…) or "
            "name ('Kingston', 'Central West BCU'). A service matches if its coverage is the "
            "area, an area containing it (ward → borough → BCU → the Metropolitan Police "
            "District E23000001 → London; the City of London is directly under London) or an area inside it, or if it has a delivery site in "
            "the area. Unknown: 404 area-not-found."
        },
    )
    near = ma.fields.String(
        validate=ma.validate.Length(min=3, max=60),
        metadata={
            "description": "`lat,lon` (WGS84) in or around London: services with a delivery "
            "site within `radius`; each carries `distance_m` to its nearest site (straight "
            "line, British National Grid metres). Default sort: distance."
        },
    )
    radius = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=MAX_RADIUS_M),
        metadata={
            "description": f"Metres around `near` (default {DEFAULT_RADIUS_M}, at most "
            f"{MAX_RADIUS_M}); only with `near`"
        },
    )
    bbox = ma.fields.String(
        validate=ma.validate.Length(min=7, max=120),
        metadata={
            "description": "`minlon,minlat,maxlon,maxlat` (WGS84, longitude first) reaching "
            "London (a map's viewport: clipped to longitude -1 to 0.8, latitude 51 to 52; "
            "a box missing London is a 422): services with a delivery site inside. As "
            "GeoJSON, a Feature for each of their sites inside the box only; JSON and CSV "
            "show each service as it is (CSV's postcodes: every site's)"
        },
    )
    live_on = live_on_field(
        "Services with a non-withdrawn grant covering that day (a missing start or end date "
        "is open-ended)"
    )
    funding_ends_within = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=MAX_FUNDING_DAYS),
        metadata={
            "description": "Days: services with a non-withdrawn grant ending between today and "
            "today + days"
        },
    )
    updated_since = ma.fields.String(
        validate=ma.validate.Length(min=4, max=40),
        metadata={
            "description": "ISO 8601 date or date-time (UTC unless it says otherwise): services "
            "changed at or after it"
        },
    )
    sort = ma.fields.String(
        validate=ma.validate.OneOf(SORTS),
        metadata={
            "description": "relevance (needs q; the default with q), distance (needs near; the "
            "default with near and no q), name (the default otherwise), updated (newest change "
            "first), funding_end (soonest end of a grant not yet ended first; none last). Ties: "
            "name, then id. relevance without q or distance without near: 422."
        },
    )
    format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "geojson", "csv"]),
        metadata={
            "description": "json (default), geojson (a FeatureCollection, one feature per "
            "delivery site, with bbox per site inside it; also with Accept: "
            "application/geo+json) or csv (one row per service; also with Accept: text/csv). "
            "Paging is the same for all three: pages of services."
        },
    )


class OrganisationRefSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    type = ma.fields.String(allow_none=True)


class ServiceSummarySchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String(metadata={"description": "Stable reference from the source"})
    name = ma.fields.String()
    status = ma.fields.String()
    organisation = ma.fields.Nested(OrganisationRefSchema)
    themes = ma.fields.List(ma.fields.String())
    coverage = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    last_verified = ma.fields.Date(allow_none=True)
    stale = ma.fields.Boolean(
        metadata={"description": "last_verified is missing or older than the stale age"}
    )
    withdrawn = ma.fields.Boolean()
    updated_at = ma.fields.String()
    demo = ma.fields.Boolean(metadata={"description": "Illustrative demo data, not a real record"})


class ListedServiceSchema(ServiceSummarySchema):
    distance_m = ma.fields.Float(
        metadata={"description": "With near: metres to the service's nearest delivery site"}
    )
    rank = ma.fields.Float(metadata={"description": "With q: text relevance (higher is better)"})


class ServicePageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(ListedServiceSchema))


class LinkSchema(Schema):
    href = ma.fields.String()
    rel = ma.fields.String(metadata={"description": "self, first, prev, next, last, alternate"})
    type = ma.fields.String()
    title = ma.fields.String()


class PointSchema(Schema):
    type = ma.fields.String(metadata={"description": "Point"})
    coordinates = ma.fields.List(ma.fields.Float(), metadata={"description": "[lon, lat]"})


class ServiceFeaturePropertiesSchema(Schema):
    service_id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    organisation = ma.fields.String(metadata={"description": "The organisation's name"})
    themes = ma.fields.List(ma.fields.String(), metadata={"description": "Theme ids"})
    status = ma.fields.String()
    site = ma.fields.String(allow_none=True, metadata={"description": "The site's name"})
    postcode = ma.fields.String(allow_none=True)
    coverage = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "A service with no site: the codes of the areas it serves"},
    )
    url = ma.fields.String()
    distance_m = ma.fields.Float(metadata={"description": "With near: metres to the site"})


class ServiceFeatureSchema(Schema):
    type = ma.fields.String(metadata={"description": "Feature"})
    id = ma.fields.String(metadata={"description": "<service id>-<site id>, or the service id"})
    geometry = ma.fields.Nested(
        PointSchema,
        allow_none=True,
        metadata={"description": "The site; null for a service with no located site"},
    )
    properties = ma.fields.Nested(ServiceFeaturePropertiesSchema)


class ServiceFeatureCollectionSchema(Schema):
    type = ma.fields.String(metadata={"description": "FeatureCollection"})
    numberMatched = ma.fields.Integer(  # noqa: N815 (OGC API - Features member name)
        metadata={
            "description": "Features of every matching service, on every page (one per site, "
            "one for a service without a site; with bbox, one per site inside the box)"
        }
    )
    numberReturned = ma.fields.Integer(  # noqa: N815
        metadata={"description": "Features in this response"}
    )
    links = ma.fields.List(
        ma.fields.Nested(LinkSchema),
        metadata={"description": "self, first, prev, next, last, alternate"},
    )
    features = ma.fields.List(ma.fields.Nested(ServiceFeatureSchema))


class EligibilitySchema(Schema):
    min_age = ma.fields.Integer(allow_none=True)
    max_age = ma.fields.Integer(allow_none=True)
    description = ma.fields.String(allow_none=True)
    who_can_refer = ma.fields.String(allow_none=True)


class ReportSchema(Schema):
    type = ma.fields.String(allow_none=True, metadata={"description": "interim | final"})
    url = ma.fields.String()


class ServiceDetailOutcomeSchema(Schema):
    id = ma.fields.Integer(
        metadata={"description": "The outcome's id: /services/{key}/outcomes/{outcome_id}, "
                  "and what a practice note cites it by"}
    )  # fmt: skip
    metric = ma.fields.String()
    period_start = ma.fields.Date(allow_none=True)
    period_end = ma.fields.Date(allow_none=True)
    value = ma.fields.Float(allow_none=True)
    target = ma.fields.Float(allow_none=True)
    unit = ma.fields.String(allow_none=True)
    met_target = ma.fields.Boolean(allow_none=True)
    report = ma.fields.Nested(ReportSchema, allow_none=True)
    measured = ma.fields.Nested(
        MeasuredSchema, metadata={"description": "When it was measured: {on, basis}"}
    )
    after_funding_months = ma.fields.Integer(
        allow_none=True, metadata={"description": AFTER_FUNDING_MONTHS}
    )
    demo = ma.fields.Boolean()


class PracticeNoteLinkSchema(Schema):
    """A practice note as a service or a dashboard lists it."""

    id = ma.fields.Integer()
    title = ma.fields.String()
    published_at = ma.fields.String()
    url = ma.fields.String()


class ServiceDetailSchema(ServiceSummarySchema):
    description = ma.fields.String(allow_none=True)
    eligibility = ma.fields.Nested(EligibilitySchema)
    contact = ma.fields.Nested(ServiceContactSchema)
    locations = ma.fields.List(ma.fields.Nested(SiteSchema))
    grants = ma.fields.List(ma.fields.Nested(GrantSchema))
    outcomes = ma.fields.List(ma.fields.Nested(ServiceDetailOutcomeSchema))
    funding_ended = ma.fields.Date(
        allow_none=True,
        metadata={
            "description": "The latest end of the community-safety awards listing the service "
            "(regrants included): its outcomes' after_funding_months count from it"
        },
    )
    outcomes_rule = ma.fields.String(
        metadata={"description": "How measured and after_funding_months are worked out"}
    )
    patch_contacts = ma.fields.List(ma.fields.Nested(ContactSchema))
    created_at = ma.fields.String()
    withdrawn_at = ma.fields.String(allow_none=True)
    source = ma.fields.String()
    hsds_extras = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        allow_none=True,
        metadata={
            "description": "What an Open Referral (HSDS) import read that has no member here, "
            "as read: schedules, languages, cost_options, required_documents, funding and "
            "contacts (lists of HSDS objects), and alternate_name, fees, fees_description, "
            "accreditations, alert, wait_time, interpretation_services and licenses (text); "
            "null for services from other sources"
        },
    )
    practice_notes = ma.fields.List(
        ma.fields.Nested(PracticeNoteLinkSchema),
        metadata={
            "description": "Its newest published practice notes (at most 5; all of them at "
            "/api/v1/practice?service={id})"
        },
    )


class ChangeSchema(Schema):
    old = ma.fields.Raw(allow_none=True)
    new = ma.fields.Raw(allow_none=True)


class ChangeEventSchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.String()
    entity = ma.fields.String()
    entity_id = ma.fields.Integer()
    entity_ref = ma.fields.String()
    action = ma.fields.String(
        metadata={"description": "created | updated | withdrawn | restored | deleted"}
    )
    summary = ma.fields.String()
    changes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(ChangeSchema),
        metadata={"description": "field → {old, new}"},
    )
    areas = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    import_run = ma.fields.Integer(allow_none=True)
    actor = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Who made the change over the API: the name of the API key (never "
            "the key); null for imports of the `directory` command and derived entries"
        },
    )


class ChangePageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(ChangeEventSchema))


# -- writes ---------------------------------------------------------------------------------


def _text(limit: int, description: str, **kwargs: object) -> ma.fields.String:
    return ma.fields.String(
        allow_none=True, validate=ma.validate.Length(max=limit),
        metadata={"description": description}, **kwargs,
    )  # fmt: skip


class SitePatchSchema(Schema):
    """A delivery site's fields: any of them (null clears one)."""

    name = _text(300, "The site's name")
    address = _text(2000, "Its address")
    postcode = _text(
        16, "A live London postcode: the site is placed at it (coordinates, ward and borough), "
        "as an import places it",
    )  # fmt: skip
    lat = JsonNumber(
        allow_none=True, validate=ma.validate.Range(min=-90, max=90),
        metadata={"description": "WGS84 latitude, with lon, where the site is not at its "
                  "postcode's point; must be in London"},
    )  # fmt: skip
    lon = JsonNumber(
        allow_none=True, validate=ma.validate.Range(min=-180, max=180),
        metadata={"description": "WGS84 longitude, with lat"},
    )  # fmt: skip


class SiteCreateSchema(SitePatchSchema):
    """A new delivery site: a postcode, coordinates, a name or an address."""

    ref = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=160), ma.validate.Regexp(r"^[^\s/]+$")],
        metadata={"description": "The site's ref within the service (no spaces or /); "
                  "default: `<service ref>#site-<n>`"},
    )  # fmt: skip


class ServicePatchSchema(Schema):
    """A service's fields as a change sends them: only those sent change (null clears a
    field); the same checks as the template's columns."""

    name = ma.fields.String(validate=ma.validate.Length(min=1, max=300))
    description = _text(20_000, "What the service does")
    status = ma.fields.String(
        validate=ma.validate.OneOf(SERVICE_STATUSES),
        metadata={"description": "active, inactive, defunct or temporarily closed (HSDS)"},
    )
    themes = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=200)),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Theme ids or names (GET /api/v1/themes)"},
    )
    coverage = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=200)),
        validate=ma.validate.Length(max=700),
        metadata={"description": "The areas served: codes or names (London-wide, a BCU, a "
                  "borough, a ward)"},
    )  # fmt: skip
    min_age = JsonInteger(allow_none=True, validate=ma.validate.Range(min=0, max=120))
    max_age = JsonInteger(allow_none=True, validate=ma.validate.Range(min=0, max=120))
    eligibility = _text(20_000, "Who the service is for")
    who_can_refer = _text(20_000, "Who can refer: self, professionals, police, schools …")
    email = _text(300, "The service's contact email (a team's mailbox: it is published)")
    phone = _text(60, "The service's contact phone number")
    website = _text(500, "The service's web address (http or https)")
    last_verified = ma.fields.Date(
        allow_none=True,
        metadata={"description": "When the details were last checked: not after today in "
                  "London (tomorrow is allowed, for a clock a little ahead)"},
    )  # fmt: skip
    withdrawn = JsonBoolean(
        metadata={"description": "false restores a withdrawn service (with any other "
                  "change); true (sent alone) withdraws it, as DELETE does"},
    )  # fmt: skip


class ServiceCreateSchema(ServicePatchSchema):
    """A new service: its name and where it is found (coverage, or a site with a postcode)
    at least."""

    class Meta:
        exclude = ("withdrawn",)

    ref = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=120), ma.validate.Regexp(r"^(?!\d+$)[^\s/]+$")],
        metadata={"description": "The service's stable ref (no spaces or /, not all "
                  "digits); default: made from its name"},
    )  # fmt: skip
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))
    organisation = ma.fields.String(
        validate=ma.validate.Length(min=1, max=160),
        metadata={"description": "The organisation running it (id or ref): required with an "
                  "officer's or admin's key; an editor's key creates services for its own "
                  "organisation only"},
    )  # fmt: skip
    sites = ma.fields.List(
        ma.fields.Nested(SiteCreateSchema), validate=ma.validate.Length(max=200),
        metadata={"description": "Its delivery sites"},
    )  # fmt: skip


class SiteDetailSchema(SiteSchema):
    """A delivery site with the service it belongs to."""

    service = ma.fields.Nested(OutcomeServiceSchema)
