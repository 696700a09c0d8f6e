from __future__ import annotations

import marshmallow as ma

from directory.ingest.records import SERVICE_STATUSES
from directory.usecases.patch import (
    DEFAULT_RADIUS_M,
    LOOKUP_PER_POSTCODE,
    LOOKUP_PER_POSTCODE_MAX,
    MAX_RADIUS_M,
    RELATIONS,
    WHY_CHECKS,
)
from directory.web.api import JsonBoolean, JsonInteger, JsonNumber, ProblemSchema, Schema
from directory.web.resources.common import (
    AreaRefSchema,
    ContactSchema,
    PageArgsSchema,
    PageSchema,
    PoliceForceSchema,
    ProgrammeId,
    ProgrammeRefSchema,
    ProgrammesCountedSchema,
    RefNameSchema,
    ServiceContactSchema,
    SiteSchema,
    ThemeRefSchema,
    include_other_programmes_field,
    live_on_field,
    page_field,
)
from directory.web.resources.funding.schemas import (
    FundingHeadlineSchema,
    FundingProgrammesSchema,
    GroupScopesSchema,
)
from directory.web.resources.postcodes.schemas import PostcodeSchema
from directory.web.resources.services.schemas import OrganisationRefSchema


def radius_field(kind: type[ma.fields.Float], default: float | None) -> ma.fields.Float:
    """``radius``: a query string's (``Float``) or a JSON body's (``JsonNumber``)."""
    return kind(
        load_default=default,
        validate=ma.validate.Range(min=1, max=MAX_RADIUS_M),
        metadata={
            "description": f"Metres around a postcode or point for nearby sites (default {DEFAULT_RADIUS_M}, at most {MAX_RADIUS_M}); an area's patch has no point, so radius with area is a 422"
        },
    )


class PatchFilterSchema(Schema):
    theme = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        metadata={"description": "Theme id (repeatable; a service must have all)"},
    )
    programme = ProgrammeId(
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "Only services with a live grant from this programme (id)"},
    )
    status = ma.fields.String(
        load_default="active",
        validate=ma.validate.OneOf([*SERVICE_STATUSES, "any"]),
        metadata={"description": "Service status; `any` for all (default active)"},
    )
    live_on = live_on_field(
        "Only services with a grant covering this date; also the date of the funding summary"
    )
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "Every word must appear in the service, organisation or theme names or the description"
        },
    )
    radius = radius_field(ma.fields.Float, None)  # (None: not given; the default then)
    include_other_programmes = include_other_programmes_field()


#: the rule /patch's place parameters keep
ONE_PLACE = (
    "The place: exactly one of postcode, lat+lon, easting+northing or area (none, two, or "
    "half a pair is a 422 invalid-input)."
)


class PatchArgsSchema(PatchFilterSchema, PageArgsSchema):
    format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "geojson", "csv"]),
        metadata={
            "description": "geojson: the page's services as a FeatureCollection (one "
            "Feature per delivery site); csv: one row per service. Also by Accept."
        },
    )
    postcode = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40), metadata={"description": f"{ONE_PLACE}"}
    )
    lat = ma.fields.Float(metadata={"description": f"WGS84 latitude (with lon). {ONE_PLACE}"})
    lon = ma.fields.Float(metadata={"description": f"WGS84 longitude (with lat). {ONE_PLACE}"})
    easting = ma.fields.Float(
        metadata={"description": f"British National Grid (with northing). {ONE_PLACE}"}
    )
    northing = ma.fields.Float(
        metadata={"description": f"British National Grid (with easting). {ONE_PLACE}"}
    )
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": 'An area code (E09…, E05…, bcu-…, E23000001, E12000007) or name ("Kingston", '
            f'"Central West BCU"). {ONE_PLACE}'
        },
    )


#: where an award reaches a patch (funding.by_programme[].by_scope, awards[].scope)
SCOPES = [r.removeprefix("serves_") for r in RELATIONS if r.startswith("serves_")]


class PatchRelationSchema(Schema):
    relation = ma.fields.String(
        validate=ma.validate.OneOf(RELATIONS),
        metadata={"description": "Why the service is in the patch"},
    )
    distance_m = ma.fields.Integer(metadata={"description": "site_nearby: metres to the site"})
    site = ma.fields.Nested(
        SiteSchema, metadata={"description": "site_nearby, site_in_area: the site"}
    )
    area = ma.fields.Nested(
        AreaRefSchema, metadata={"description": "serves_*: the area of the patch it serves"}
    )


class PatchGrantSchema(Schema):
    """A live grant of a listed service."""

    id = ma.fields.Integer()
    ref = ma.fields.String()
    funder = ma.fields.String(allow_none=True, metadata={"description": "The funder's name"})
    programme = ma.fields.Nested(ProgrammeRefSchema, allow_none=True)
    amount = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    start = ma.fields.Date(allow_none=True)
    end = ma.fields.Date(allow_none=True)
    duration_months = ma.fields.Integer(allow_none=True)
    short_term = ma.fields.Boolean(allow_none=True, metadata={"description": "< 24 months"})
    meets_3yr_target = ma.fields.Boolean(allow_none=True, metadata={"description": ">= 36 months"})
    ending_soon = ma.fields.Boolean()
    status = ma.fields.String(
        metadata={"description": "planned | live | ending soon | ended | unknown"}
    )
    months_left = ma.fields.Integer(allow_none=True)


class AgesSchema(Schema):
    min_age = ma.fields.Integer(allow_none=True)
    max_age = ma.fields.Integer(allow_none=True)


class PatchServiceSchema(Schema):
    """A service as a patch lists it."""

    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    status = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    organisation = ma.fields.Nested(OrganisationRefSchema)
    themes = ma.fields.List(ma.fields.Nested(ThemeRefSchema))
    coverage = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    sites = ma.fields.List(ma.fields.Nested(SiteSchema))
    live_grants = ma.fields.List(ma.fields.Nested(PatchGrantSchema))
    contact = ma.fields.Nested(ServiceContactSchema)
    eligibility = ma.fields.Nested(AgesSchema)
    last_verified = ma.fields.Date(allow_none=True)
    demo = ma.fields.Boolean()
    url = ma.fields.String(metadata={"description": "/api/v1/services/{id}"})
    relations = ma.fields.List(
        ma.fields.Nested(PatchRelationSchema),
        metadata={"description": "Why it is here, strongest first"},
    )
    distance_m = ma.fields.Integer(
        allow_none=True, metadata={"description": "Metres to its nearest site nearby, if any"}
    )


class PatchServicePageSchema(PageSchema):
    contents = ma.fields.List(
        ma.fields.Nested(PatchServiceSchema),
        metadata={"description": "Services, each with `relations`: why it is in the patch"},
    )


class PatchAwardSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    funder = ma.fields.Nested(RefNameSchema)
    recipient = ma.fields.Nested(RefNameSchema)
    programme = ma.fields.Nested(ProgrammeRefSchema, allow_none=True)
    amount = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    start = ma.fields.Date(allow_none=True)
    end = ma.fields.Date(allow_none=True)
    status = ma.fields.String(
        metadata={"description": "planned | live | ending soon | ended | unknown, on live_on"}
    )
    scope = ma.fields.String(
        metadata={
            "description": "Where it reaches the patch: ward | part | borough | bcu | london "
            "(as funding.by_programme[].by_scope)"
        }
    )
    community_safety = ma.fields.Boolean()
    demo = ma.fields.Boolean()
    url = ma.fields.String(metadata={"description": "/api/v1/grants/{id}"})


class PatchAwardsSchema(Schema):
    live_on = ma.fields.Date()
    ended_since = ma.fields.Date(
        metadata={"description": "Awards that ended on or after this day are listed"}
    )
    total = ma.fields.Integer(metadata={"description": "Awards reaching the patch in all"})
    listed = ma.fields.Integer(metadata={"description": "Awards in contents (at most limit)"})
    limit = ma.fields.Integer()
    contents = ma.fields.List(ma.fields.Nested(PatchAwardSchema))
    all_url = ma.fields.String(
        metadata={"description": "/api/v1/grants?area=<code>: every award reaching the area"}
    )
    programmes = ma.fields.Nested(
        ProgrammesCountedSchema,
        metadata={
            "description": "Which programmes are listed: counted (community_safety, all or "
            "programme, with the programme id) and its rule"
        },
    )
    rule = ma.fields.String()
    sort = ma.fields.String()


class PatchFlagsSchema(Schema):
    near_boundary = ma.fields.Boolean()
    generalised_boundary = ma.fields.Boolean()
    on_river = ma.fields.Boolean()
    ward_approximate = ma.fields.Boolean()


class PatchFiltersSchema(Schema):
    theme = ma.fields.List(ma.fields.String())
    programme = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    live_on = ma.fields.Date(allow_none=True)
    q = ma.fields.String(allow_none=True)
    radius_m = ma.fields.Float(
        allow_none=True, metadata={"description": "The radius used (null for an area)"}
    )
    include_other_programmes = ma.fields.Boolean()


class PatchCountsSchema(Schema):
    class Meta:
        ordered = True
        include = {
            "services": ma.fields.Integer(metadata={"description": "Services in the patch"}),
            **{
                relation: ma.fields.Integer(metadata={"description": f"Services with {relation}"})
                for relation in RELATIONS
            },
        }


class PatchFundingMoneySchema(Schema):
    awards = ma.fields.Integer()
    amount = ma.fields.Float(metadata={"description": "Pounds, each award in full"})


class PatchFundingScopesSchema(Schema):
    ward = ma.fields.Nested(PatchFundingMoneySchema)
    part = ma.fields.Nested(PatchFundingMoneySchema)
    borough = ma.fields.Nested(PatchFundingMoneySchema)
    bcu = ma.fields.Nested(PatchFundingMoneySchema)
    london = ma.fields.Nested(PatchFundingMoneySchema)


class PatchFundingProgrammeSchema(PatchFundingMoneySchema):
    programme = ma.fields.Nested(
        ProgrammeRefSchema,
        allow_none=True,
        metadata={"description": "null for awards with no programme"},
    )
    community_safety = ma.fields.Boolean()
    by_scope = ma.fields.Nested(
        PatchFundingScopesSchema,
        metadata={
            "description": "By the scope each award first reaches the patch at (ward, part, "
            "borough, bcu, london): present scopes only"
        },
    )
    scopes = ma.fields.Nested(
        GroupScopesSchema,
        metadata={
            "description": "By the award's scope at the patch's own area, as in headline "
            "(own, shared, borough_wide, bcu_wide, london_wide), each award in full"
        },
    )


class PatchFundingSchema(Schema):
    live_on = ma.fields.Date()
    awards = ma.fields.Integer(metadata={"description": "Live awards reaching the patch"})
    amount = ma.fields.Float(
        metadata={
            "description": "Pounds, every live award reaching the patch in full (London-wide "
            "and BCU-wide ones included): see headline for the patch's own"
        }
    )
    headline = ma.fields.Nested(
        FundingHeadlineSchema,
        metadata={
            "description": "The patch's own live awards (its ward, or the area asked for and "
            "the areas inside it) apart from the shared and wider ones, as "
            "/funding/summary?area= gives them"
        },
    )
    by_programme = ma.fields.List(
        ma.fields.Nested(PatchFundingProgrammeSchema),
        metadata={"description": "Largest amount first"},
    )
    programmes = ma.fields.Nested(
        FundingProgrammesSchema, metadata={"description": "Which programmes are counted"}
    )
    rule = ma.fields.String()


class PatchOpportunitySchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    title = ma.fields.String()
    funder = ma.fields.String(metadata={"description": "The funder's name"})
    scope = ma.fields.String(
        metadata={"description": "The most local of the patch's areas it is for: ward, "
                  "inside (an area inside the one asked for), borough, bcu or london"}
    )  # fmt: skip
    small_org_friendly = ma.fields.Boolean()
    amount_min = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    amount_max = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    opens_at = ma.fields.String(allow_none=True, metadata={"description": "Europe/London"})
    closes_at = ma.fields.String(metadata={"description": "The deadline, Europe/London"})
    how_to_apply_url = ma.fields.String(allow_none=True)
    url = ma.fields.String()
    demo = ma.fields.Boolean()
    status = ma.fields.String(metadata={"description": "open or closing_soon"})
    days_left = ma.fields.Integer(metadata={"description": "Calendar days to the deadline"})
    time_left = ma.fields.String(
        metadata={"description": "closes in 5 days, closes today at 17:00 …"}
    )


class PatchOpportunitiesSchema(Schema):
    total = ma.fields.Integer(metadata={"description": "Open opportunities for the patch"})
    contents = ma.fields.List(
        ma.fields.Nested(PatchOpportunitySchema),
        metadata={"description": "The first 10, soonest deadline first"},
    )
    closing_soon_days = ma.fields.Integer(
        metadata={"description": "closing_soon: closing within this many days"}
    )
    all_url = ma.fields.String(
        metadata={"description": "Every opportunity for the patch's area (/opportunities)"}
    )


class PatchPlaceSchema(PostcodeSchema):
    """Where a patch is: the postcode's, point's or area's answer, whichever was asked."""

    area = ma.fields.Nested(AreaRefSchema, metadata={"description": "match=area: the area"})
    borough = ma.fields.Nested(
        AreaRefSchema, allow_none=True, metadata={"description": "null for an area above one"}
    )
    bcu_note = ma.fields.String(
        metadata={"description": "match=area in the City of London: why there is no BCU"}
    )
    flags = ma.fields.Nested(PatchFlagsSchema, metadata={"description": "match=point"})


class PatchSchema(PatchPlaceSchema):
    """The patch: where it is (the postcode's, point's or area's answer, whichever was
    asked), then what is in it. A hot route: the view returns the use case's dict, this
    documents it."""

    filters = ma.fields.Nested(PatchFiltersSchema)
    counts = ma.fields.Nested(
        PatchCountsSchema, metadata={"description": "Services in all, and per relation"}
    )
    funding = ma.fields.Nested(
        PatchFundingSchema,
        metadata={
            "description": "Live awards into the patch by programme and scope; community-safety "
            "programmes only unless include_other_programmes=true (see its programmes member)"
        },
    )
    awards = ma.fields.Nested(
        PatchAwardsSchema,
        metadata={
            "description": "The awards reaching the patch, live on live_on (default today) or "
            "ended within the 12 months before, whether or not they fund a listed service; "
            "newest first, the first 50 (all_url for the rest)"
        },
    )
    contacts = ma.fields.List(
        ma.fields.Nested(ContactSchema),
        metadata={"description": "Patch contacts (SPOC, SNB chair, BCU lead)"},
    )
    opportunities = ma.fields.Nested(
        PatchOpportunitiesSchema,
        metadata={"description": "Funding opportunities open now (open or closing soon) for "
                  "the patch's ward, borough, BCU or all of London, with the time left"},
    )  # fmt: skip
    services = ma.fields.Nested(PatchServicePageSchema)
    sort = ma.fields.String()


#: what /patch/why says of the /patch parameters it takes and leaves aside
_LEFT_ASIDE = (
    "/patch's, taken as /patch takes it (a bad value is the same problem) and left aside: "
    "it changes nothing here, so a /patch URL with `service=` added asks /patch/why"
)


class PatchWhyArgsSchema(PatchArgsSchema):
    """/patch's place and filters, and the service asked about; /patch's page and funding's
    programmes are taken and left aside, its format is not (/patch/why answers JSON)."""

    class Meta:
        exclude = ("format",)

    page = page_field(description=_LEFT_ASIDE)
    include_other_programmes = ma.fields.Boolean(
        load_default=False, metadata={"description": _LEFT_ASIDE}
    )

    service = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "The service asked about: its id or ref (required)"},
    )


class PatchWhyServiceSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    status = ma.fields.String(
        metadata={"description": "Its status, or withdrawn (then in no patch)"}
    )
    url = ma.fields.String()


class PatchWhyReasonSchema(Schema):
    check = ma.fields.String(
        validate=ma.validate.OneOf(WHY_CHECKS),
        metadata={
            "description": "status (always), theme, programme, live_on, q (each when given), "
            "coverage and sites (unless withdrawn)"
        },
    )
    passed = ma.fields.Boolean(
        metadata={
            "description": "Whether the service meets the rule: it is in the patch when status and "
            "every filter pass, and coverage or sites does"
        }
    )
    detail = ma.fields.String(metadata={"description": "The check in plain English"})
    status = ma.fields.String(metadata={"description": "status: the service's status"})
    missing = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "theme: the themes asked for it lacks; q: the words it lacks"},
    )
    excluded = ma.fields.List(
        ma.fields.String(), metadata={"description": "q: the excluded words (-word) it has"}
    )
    areas = ma.fields.List(
        ma.fields.Nested(AreaRefSchema),
        metadata={"description": "coverage: the areas its coverage names"},
    )
    distance_m = ma.fields.Integer(
        metadata={"description": "sites, by postcode or point: metres to its nearest site"}
    )
    radius_m = ma.fields.Float(metadata={"description": "sites, by postcode or point: the radius"})
    site = ma.fields.Nested(
        SiteSchema,
        metadata={"description": "sites: its nearest site, or its site inside the area asked for"},
    )


class PatchWhySchema(PatchPlaceSchema):
    """Whether a service is in a patch, where, and why (or why not)."""

    class Meta:
        ordered = True

    filters = ma.fields.Nested(PatchFiltersSchema)
    service = ma.fields.Nested(PatchWhyServiceSchema)
    in_patch = ma.fields.Boolean(
        metadata={"description": "Whether /patch with this place and these filters lists it"}
    )
    position = ma.fields.Integer(
        metadata={"description": "in_patch: its place in the patch's order, from 1"}
    )
    page = ma.fields.Integer(
        metadata={"description": "in_patch: the page of /patch it is on at per_page"}
    )
    per_page = ma.fields.Integer(metadata={"description": "in_patch: the per_page of page"})
    relations = ma.fields.List(
        ma.fields.Nested(PatchRelationSchema),
        metadata={"description": "in_patch: why the patch lists it, as the patch says it"},
    )
    reasons = ma.fields.List(
        ma.fields.Nested(PatchWhyReasonSchema),
        metadata={"description": "Each rule of the patch checked for the service"},
    )


class PatchLookupSchema(PatchFilterSchema):
    postcodes = ma.fields.List(
        ma.fields.Raw(allow_none=True),
        required=True,
        metadata={"description": "Up to 1,000 postcodes (a SPOC's caseload)"},
    )
    detail = ma.fields.String(
        load_default="ids",
        validate=ma.validate.OneOf(["ids", "full"]),
        metadata={"description": "ids: service ids and counts; full: the services themselves"},
    )
    # a JSON body's values are of the types the document gives them ("500" for the radius,
    # 1 or "yes" for a boolean, 2.5 for a count are a 422), as on the write routes; the
    # query strings of GET /patch keep their conversion
    radius = radius_field(JsonNumber, DEFAULT_RADIUS_M)
    include_other_programmes = include_other_programmes_field(JsonBoolean)
    per_page = JsonInteger(
        load_default=LOOKUP_PER_POSTCODE,
        validate=ma.validate.Range(min=1, max=LOOKUP_PER_POSTCODE_MAX),
        metadata={
            "description": "detail=full: the services listed in full per postcode, the first "
            "in the patch's order (counts says how many match; GET /patch pages through "
            "the rest). An answer over 8 MB is refused (413 answer-too-large)"
        },
    )


class PatchLookupServiceSchema(PatchServiceSchema):
    relations = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(RELATIONS)),
        metadata={"description": "Why it is here (the relations only)"},
    )

    class Meta:
        exclude = ("distance_m",)  # not sent in a lookup


class PatchLookupPatchSchema(Schema):
    postcode = ma.fields.String()
    ward = ma.fields.Nested(AreaRefSchema, allow_none=True)
    borough = ma.fields.Nested(AreaRefSchema)
    bcu = ma.fields.Nested(AreaRefSchema, allow_none=True)
    police_force = ma.fields.Nested(PoliceForceSchema)
    counts = ma.fields.Nested(PatchCountsSchema)
    service_ids = ma.fields.List(
        ma.fields.Integer(), metadata={"description": "detail=ids: the services, in order"}
    )
    services = ma.fields.List(
        ma.fields.Nested(PatchLookupServiceSchema),
        metadata={"description": "detail=full: the first per_page services, in order"},
    )


class PatchLookupItemSchema(Schema):
    query = ma.fields.Raw(allow_none=True, metadata={"description": "The item as sent"})
    result = ma.fields.Nested(PatchLookupPatchSchema)
    problem = ma.fields.Nested(ProblemSchema)


class PatchLookupResultSchema(Schema):
    results = ma.fields.List(ma.fields.Nested(PatchLookupItemSchema))
    found = ma.fields.Integer()
    problems = ma.fields.Integer()


class PartnerAreaSchema(AreaRefSchema):
    relation = ma.fields.String(metadata={"description": "touches | across_water"})


class PartnerArgsSchema(PageArgsSchema):
    organisation = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Find partners for this organisation (id or ref)"},
    )
    postcode = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "…or for work at this postcode (with theme)"},
    )
    theme = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        metadata={"description": "Themes to match (repeatable); required with postcode"},
    )


class PartnerReasonSchema(Schema):
    reason = ma.fields.String(
        metadata={
            "description": "shared_themes | same_borough | neighbouring_borough | london_wide | "
            "sites_nearby | shared_funders"
        }
    )
    themes = ma.fields.List(ma.fields.String(), metadata={"description": "shared_themes"})
    areas = ma.fields.List(
        ma.fields.Nested(PartnerAreaSchema),
        metadata={"description": "same_borough, neighbouring_borough (with relation)"},
    )
    distance_m = ma.fields.Integer(metadata={"description": "sites_nearby: closest sites"})
    funders = ma.fields.List(
        ma.fields.String(allow_none=True),
        metadata={"description": "shared_funders: their names"},
    )


class PartnerSchema(Schema):
    organisation = ma.fields.Nested(OrganisationRefSchema)
    score = ma.fields.Integer()
    reasons = ma.fields.List(ma.fields.Nested(PartnerReasonSchema))
    services = ma.fields.Integer(metadata={"description": "Its active services"})
    contact = ma.fields.Nested(
        ServiceContactSchema,
        metadata={
            "description": "Its public contact: its own e-mail and website, else its listed "
            "services' (those on the themes asked for first); the phone a service's"
        },
    )
    demo = ma.fields.Boolean(
        metadata={"description": "Every listed service it runs is a demo record, or it is"}
    )
    url = ma.fields.String()


class PartnerPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(PartnerSchema))


class PartnerSubjectSchema(Schema):
    organisation = ma.fields.Nested(
        OrganisationRefSchema,
        allow_none=True,
        metadata={"description": "null when asked by postcode and theme"},
    )
    themes = ma.fields.List(ma.fields.String())
    boroughs = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    london_wide = ma.fields.Boolean(
        metadata={
            "description": "A service of the organisation covers London: it works in every "
            "borough, so organisations on its themes anywhere are partners"
        }
    )


class PartnersSchema(Schema):
    note = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Why nothing can match (an organisation with no active themed services)"
        },
    )
    subject = ma.fields.Nested(PartnerSubjectSchema)
    partners = ma.fields.Nested(
        PartnerPageSchema,
        metadata={
            "description": "Page envelope of ranked organisations, each with its reasons, its public "
            "contact (e-mail, phone, website) and demo (every listed service it runs is a demo "
            "record, or the organisation is)"
        },
    )
    ranking = ma.fields.String()
