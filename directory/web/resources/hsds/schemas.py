"""Open Referral HSDS 3.0 objects as this API writes them (the members it fills; HSDS and
the ORUK profile allow more) and the HSDS query parameters."""

from __future__ import annotations

import marshmallow as ma

from directory.usecases.hsds import MAX_PROXIMITY_M
from directory.web.api import Schema
from directory.web.resources.common import PageArgsSchema, PageSchema

_UUID = {"format": "uuid"}


def _id(description: str = "Stable id (UUID)") -> ma.fields.String:
    return ma.fields.String(required=True, metadata={"description": description, **_UUID})


def _kept_id() -> ma.fields.String:
    """The id of an object we make (a UUID) or one an HSDS import kept (as read)."""
    return ma.fields.String(
        required=True,
        metadata={"description": "A UUID (ours), or the id an HSDS import read"},
    )


def _uuid(description: str) -> ma.fields.String:
    return ma.fields.String(metadata={"description": description, **_UUID})


def _kept_text() -> ma.fields.String:
    return ma.fields.String(metadata={"description": "As an HSDS import read it"})


def _kept_objects(kind: str) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw()),
        metadata={"description": f"HSDS {kind} objects, as an HSDS import read them"},
    )


class HsdsRootSchema(Schema):
    version = ma.fields.String(required=True, metadata={"description": "HSDS version: 3.0"})
    profile = ma.fields.String(
        required=True, metadata={"description": "The profile implemented: Open Referral UK"}
    )
    openapi_url = ma.fields.String(
        required=True, metadata={"description": "This API's OpenAPI document"}
    )


class HsdsPhoneSchema(Schema):
    id = _kept_id()
    service_id = _uuid("The service whose phone it is")
    contact_id = ma.fields.String(metadata={"description": "The contact whose phone it is"})
    number = ma.fields.String(required=True)
    extension = ma.fields.Raw(metadata={"description": "As an HSDS import read it"})
    type = ma.fields.String(metadata={"description": "As an HSDS import read it"})
    description = ma.fields.String(metadata={"description": "As an HSDS import read it"})


class HsdsOrganizationIdentifierSchema(Schema):
    id = _id()
    organization_id = _uuid("The organization")
    identifier_scheme = ma.fields.String(
        metadata={"description": "org-id (the identifier is a whole org-id), GB-CHC or GB-COH"}
    )
    identifier_type = ma.fields.String(required=True)
    identifier = ma.fields.String(required=True)


class HsdsServiceSummarySchema(Schema):
    """A service's one-to-one members (HSDS service_list)."""

    id = _id("Stable id: the UUID v5 of the service's ref (or the ref, when a UUID)")
    organization_id = _uuid("The organization that runs it")
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    url = ma.fields.String()
    email = ma.fields.String()
    status = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["active", "inactive", "defunct", "temporarily closed"]),
    )
    eligibility_description = ma.fields.String()
    application_process = ma.fields.String(metadata={"description": "Who can refer"})
    minimum_age = ma.fields.Integer()
    maximum_age = ma.fields.Integer()
    assured_date = ma.fields.Date(metadata={"description": "When the record was last verified"})
    last_modified = ma.fields.String(
        required=True, metadata={"description": "Our last change to the service (UTC)"}
    )


class HsdsOrganizationSchema(Schema):
    id = _id("Stable id: the UUID v5 of the organisation's ref (or the ref, when a UUID)")
    name = ma.fields.String(required=True)
    description = ma.fields.String(
        required=True, metadata={"description": "Empty when none is held (ORUK requires it)"}
    )
    email = ma.fields.String()
    website = ma.fields.String()
    legal_status = ma.fields.String(metadata={"description": "Our organisation type, in words"})
    organization_identifiers = ma.fields.List(
        ma.fields.Nested(HsdsOrganizationIdentifierSchema),
        metadata={"description": "Its org-id, charity and company numbers (not in lists)"},
    )
    services = ma.fields.List(
        ma.fields.Nested(HsdsServiceSummarySchema),
        metadata={"description": "Its listed services (one organization, or full=true)"},
    )


class HsdsAddressSchema(Schema):
    id = _id()
    location_id = _uuid("The location")
    address_1 = ma.fields.String(required=True)
    address_2 = ma.fields.String()
    city = ma.fields.String(required=True)
    state_province = ma.fields.String(required=True)
    postal_code = ma.fields.String(required=True)
    country = ma.fields.String(required=True)
    address_type = ma.fields.String(required=True)


class HsdsLocationSchema(Schema):
    id = _id("Stable id from the site's service ref and ref (or the ref, when a UUID)")
    location_type = ma.fields.String(required=True, metadata={"description": "physical"})
    name = ma.fields.String()
    latitude = ma.fields.Float()
    longitude = ma.fields.Float()
    external_identifier = ma.fields.String(metadata={"description": "The site's ref"})
    external_identifier_type = ma.fields.String()
    addresses = ma.fields.List(ma.fields.Nested(HsdsAddressSchema))


class HsdsServiceAreaSchema(Schema):
    id = _id()
    name = ma.fields.String()
    description = ma.fields.String()
    extent = ma.fields.String(metadata={"description": "The area's GSS code"})
    extent_type = ma.fields.String(metadata={"description": "gss_code"})
    uri = ma.fields.String(metadata={"description": "The GSS code's ONS linked-data address"})
    service_area = ma.fields.String(metadata={"description": "The area's name (ORUK)"})


class HsdsTaxonomySchema(Schema):
    id = _id()
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    version = ma.fields.String()


class HsdsTaxonomyTermSchema(Schema):
    id = _id()
    code = ma.fields.String(metadata={"description": "Our theme id"})
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    taxonomy = ma.fields.String()
    taxonomy_id = _uuid("The taxonomy")
    term = ma.fields.String(metadata={"description": "Our theme id (ORUK's member)"})


class HsdsAttributeSchema(Schema):
    id = _id()
    link_id = _uuid("The service")
    link_type = ma.fields.String()
    link_entity = ma.fields.String()
    taxonomy_term_id = _uuid("The taxonomy term (a theme)")
    taxonomy_term = ma.fields.Nested(HsdsTaxonomyTermSchema)


class HsdsFundingSchema(Schema):
    id = _kept_id()
    service_id = ma.fields.String(metadata={"description": "The service"})
    organization_id = ma.fields.String(
        metadata={"description": "As an HSDS import read it (funding it kept)"}
    )
    source = ma.fields.String(
        metadata={"description": "Funder; programme; title; amount; start to end; our grant ref"}
    )


class HsdsContactSchema(Schema):
    id = _kept_id()
    service_id = ma.fields.String(metadata={"description": "The service"})
    organization_id = ma.fields.String(
        metadata={"description": "As an HSDS import read it (contacts it kept)"}
    )
    name = ma.fields.String()
    title = ma.fields.String(metadata={"description": "Role, and the area it covers"})
    department = ma.fields.String(metadata={"description": "As an HSDS import read it"})
    email = ma.fields.String()
    phones = ma.fields.List(ma.fields.Nested(HsdsPhoneSchema))


class HsdsSiteSchema(Schema):
    """A service at a location, in its service."""

    id = _id()
    service_id = _uuid("The service")
    location_id = _uuid("The location")
    location = ma.fields.Nested(HsdsLocationSchema)


class HsdsServiceAtLocationSchema(HsdsSiteSchema):
    service = ma.fields.Nested(
        lambda: HsdsServiceSchema(),
        metadata={"description": "The full service (one, or full=true)"},
    )


class HsdsServiceSchema(HsdsServiceSummarySchema):
    """A full HSDS service."""

    phones = ma.fields.List(ma.fields.Nested(HsdsPhoneSchema))
    organization = ma.fields.Nested(HsdsOrganizationSchema)
    service_areas = ma.fields.List(ma.fields.Nested(HsdsServiceAreaSchema))
    service_at_locations = ma.fields.List(ma.fields.Nested(HsdsSiteSchema))
    attributes = ma.fields.List(
        ma.fields.Nested(HsdsAttributeSchema), metadata={"description": "Its themes"}
    )
    funding = ma.fields.List(
        ma.fields.Nested(HsdsFundingSchema),
        metadata={"description": "Its grants, then the funding an HSDS import kept"},
    )
    contacts = ma.fields.List(
        ma.fields.Nested(HsdsContactSchema),
        metadata={
            "description": "The patch contacts of the areas it serves, then those an HSDS "
            "import kept"
        },
    )
    alternate_name = _kept_text()
    fees = _kept_text()
    fees_description = _kept_text()
    accreditations = _kept_text()
    alert = _kept_text()
    wait_time = _kept_text()
    interpretation_services = _kept_text()
    licenses = _kept_text()
    schedules = _kept_objects("schedule")
    languages = _kept_objects("language")
    cost_options = _kept_objects("cost_option")
    required_documents = _kept_objects("required_document")


class HsdsServicePageSchema(PageSchema):
    contents = ma.fields.List(
        ma.fields.Nested(HsdsServiceSchema),
        metadata={
            "description": "List objects (one-to-one members and the organization); full "
            "objects with full=true; only id, name, status and last_modified with minimal=true"
        },
    )


class HsdsOrganizationPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(HsdsOrganizationSchema))


class HsdsLocationPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(HsdsLocationSchema))


class HsdsServiceAtLocationPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(HsdsServiceAtLocationSchema))


class HsdsTaxonomyPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(HsdsTaxonomySchema))


class HsdsTaxonomyTermPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(HsdsTaxonomyTermSchema))


# -- query parameters ---------------------------------------------------------------------------
def _text(description: str, length: int = 200) -> ma.fields.String:
    return ma.fields.String(
        validate=ma.validate.Length(min=1, max=length), metadata={"description": description}
    )


class HsdsSearchArgsSchema(PageArgsSchema):
    search = _text(
        "Text search over the service's name, organisation, description and themes (as "
        "`q` of /api/v1/services)"
    )


class HsdsServiceArgsSchema(HsdsSearchArgsSchema):
    taxonomy_term_id = _text(
        "Services with this taxonomy term (a theme), by its id or its code (the theme's id)", 60
    )
    taxonomy_id = _text("Services with any term of this taxonomy (our themes), by id", 60)
    organization_id = _text("Services this organization runs, by id", 60)
    modified_after = _text(
        "Services changed at or after this ISO 8601 date-time (UTC unless it says), for "
        "incremental sync",
        60,
    )
    postcode = _text(
        "A London postcode: services whose service areas cover it (its ward, borough, BCU or "
        "London) or with a delivery site in its ward; with `proximity`, services with a "
        "site within that many metres of its centre",
        20,
    )
    proximity = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=MAX_PROXIMITY_M),
        metadata={"description": f"Metres around `postcode` (at most {MAX_PROXIMITY_M})"},
    )
    full = ma.fields.Boolean(
        load_default=False, metadata={"description": "Full objects (as /services/{id})"}
    )


class HsdsServiceListArgsSchema(HsdsServiceArgsSchema):
    minimal = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Only id, name, status and last_modified of each service"},
    )


class HsdsOrganizationArgsSchema(PageArgsSchema):
    search = _text(
        "Words (all must match): each starts a word of the organisation's name (case, "
        "accents and punctuation aside) or is in its description; `-word` leaves out "
        "what has it"
    )
    full = ma.fields.Boolean(
        load_default=False, metadata={"description": "With identifiers and services"}
    )


class HsdsTaxonomyTermArgsSchema(PageArgsSchema):
    search = _text("Words (all must appear) in the term's name, description or code")
    taxonomy_id = _text("Terms of this taxonomy, by id", 60)
