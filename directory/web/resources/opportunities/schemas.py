"""Schemas of the funding opportunities (bidding rounds)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import marshmallow as ma

from directory.usecases.opportunities import LONDON_TZ, STATUSES
from directory.web.api import AreaRefSchema, JsonBoolean, JsonInteger, JsonNumber, Schema
from directory.web.resources.areas.schemas import GeometrySchema
from directory.web.resources.common import (
    FIRST_DAY,
    LAST_DAY,
    PageArgsSchema,
    PageSchema,
    ThemeRefSchema,
)
from directory.web.resources.services.schemas import LinkSchema

_AREA = "Area code or name (Kingston, E09000021, bcu-south-west, a ward's code): the " \
    "opportunities for it, for the areas above it (its BCU, London-wide) and inside it"  # fmt: skip


class OpportunityFeedArgsSchema(Schema):
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120), metadata={"description": _AREA}
    )
    theme = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        metadata={"description": "Theme id (repeatable; all must match). See /api/v1/themes"},
    )
    postcode = ma.fields.String(
        validate=ma.validate.Length(min=1, max=20),
        metadata={"description": "A London postcode: the opportunities for its ward, "
                  "borough, BCU or all of London (not with area)"},
    )  # fmt: skip
    small_org_friendly = ma.fields.Boolean(
        metadata={"description": "true: only those marked suitable for small organisations "
                  "(see each one's small_org_rule); false: only the others"}
    )  # fmt: skip


class OpportunityListArgsSchema(OpportunityFeedArgsSchema, PageArgsSchema):
    open_on = ma.fields.Date(
        validate=ma.validate.Range(min=FIRST_DAY, max=LAST_DAY),
        metadata={"description": "Accepting bids at some time on this day (Europe/London), "
                  "YYYY-MM-DD; with the default status, not closed now either"},
    )  # fmt: skip
    closes_within = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=3650),
        metadata={
            "description": "Not closed, and closing within this many days: today or "
            "one of the next this many days in London (days_left at most this)"
        },
    )
    status = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(STATUSES)),
        metadata={"description": "upcoming, open, closing_soon or closed (repeatable; any "
                  "of them). Default: upcoming, open and closing_soon"},
    )  # fmt: skip
    format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "geojson", "csv"]),
        metadata={"description": "json (default), geojson (one feature per opportunity, its "
                  "areas as the geometry; also with Accept: application/geo+json) or csv "
                  "(also with Accept: text/csv)"},
    )  # fmt: skip


class FunderSchema(Schema):
    ref = ma.fields.String(
        allow_none=True, metadata={"description": "The funder's organisation ref, when held"}
    )
    name = ma.fields.String()


class GrantLengthSchema(Schema):
    min = ma.fields.Integer(allow_none=True, metadata={"description": "Months"})
    max = ma.fields.Integer(allow_none=True, metadata={"description": "Months"})


class OpportunityContactSchema(Schema):
    name = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)


class OpportunityProgrammeSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String(allow_none=True)


_STATUS = ("upcoming, open, closing_soon (closing within DIRECTORY_CLOSING_SOON_DAYS days), "
           "closed, or withdrawn (only when asked for by id or ref)")  # fmt: skip


class OpportunitySchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    title = ma.fields.String()
    funder = ma.fields.Nested(FunderSchema)
    programme = ma.fields.Nested(OpportunityProgrammeSchema, allow_none=True)
    summary = ma.fields.String(allow_none=True)
    eligibility = ma.fields.String(allow_none=True)
    small_org_friendly = ma.fields.Boolean()
    small_org_rule = ma.fields.String(
        allow_none=True,
        metadata={"description": "What makes it suit small organisations (income under a "
                  "threshold, no match funding …)"},
    )  # fmt: skip
    amount_min = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    amount_max = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    total_pot = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    currency = ma.fields.String()
    awards_expected = ma.fields.Integer(allow_none=True)
    opens_at = ma.fields.String(
        allow_none=True,
        metadata={"description": "ISO 8601 in Europe/London with its offset; null: open since "
                  "published"},
    )  # fmt: skip
    closes_at = ma.fields.String(
        metadata={"description": "The deadline, ISO 8601 in Europe/London with its offset"}
    )
    decision_date = ma.fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD"})
    grant_length_months = ma.fields.Nested(GrantLengthSchema)
    how_to_apply_url = ma.fields.String(allow_none=True)
    contact = ma.fields.Nested(
        OpportunityContactSchema,
        allow_none=True,
        metadata={"description": "Only when the record says it may be published"},
    )
    themes = ma.fields.List(ma.fields.Nested(ThemeRefSchema))
    areas = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    status = ma.fields.String(metadata={"description": _STATUS})
    days_left = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "Calendar days (Europe/London) to the deadline, or to the "
                  "opening when upcoming; null once closed"},
    )  # fmt: skip
    time_left = ma.fields.String(
        metadata={"description": "In words: closes in 5 days, closes today at 17:00, opens "
                  "tomorrow, closed on 3 March 2026"}
    )  # fmt: skip
    demo = ma.fields.Boolean(metadata={"description": "An illustration of the demo directory"})
    created_at = ma.fields.String()
    updated_at = ma.fields.String()
    withdrawn_at = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(
        metadata={
            "description": "How many changes have been recorded to it (its history's length; "
            "a change to a detail not published counts too, so the ETag moves with every "
            "change and two writers cannot both pass If-Match)"
        }
    )
    url = ma.fields.String()


class OpportunityPlaceSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema, metadata={"description": "The area matched"})
    postcode = ma.fields.String(allow_none=True)


class OpportunityPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(OpportunitySchema))
    place = ma.fields.Nested(
        OpportunityPlaceSchema, allow_none=True, metadata={"description": "The place asked for"}
    )
    status = ma.fields.List(ma.fields.String(), metadata={"description": "The statuses listed"})
    closing_soon_days = ma.fields.Integer()
    status_rule = ma.fields.String()


class OpportunityFeaturePropertiesSchema(Schema):
    opportunity_id = ma.fields.Integer()
    ref = ma.fields.String()
    title = ma.fields.String()
    funder = ma.fields.String()
    status = ma.fields.String()
    time_left = ma.fields.String()
    opens_at = ma.fields.String(allow_none=True)
    closes_at = ma.fields.String()
    small_org_friendly = ma.fields.Boolean()
    amount_min = ma.fields.Float(allow_none=True)
    amount_max = ma.fields.Float(allow_none=True)
    themes = ma.fields.List(ma.fields.String(), metadata={"description": "Theme ids"})
    areas = ma.fields.List(ma.fields.String(), metadata={"description": "Area codes"})
    how_to_apply_url = ma.fields.String(allow_none=True)
    url = ma.fields.String()


class OpportunityFeatureSchema(Schema):
    type = ma.fields.String(metadata={"description": "Feature"})
    id = ma.fields.String(metadata={"description": "The opportunity's id"})
    geometry = ma.fields.Nested(
        GeometrySchema,
        allow_none=True,
        metadata={"description": "Its areas together (simplified by 20 m); null if none of "
                  "them is in the loaded boundaries"},
    )  # fmt: skip
    properties = ma.fields.Nested(OpportunityFeaturePropertiesSchema)


class OpportunityFeatureCollectionSchema(Schema):
    type = ma.fields.String(metadata={"description": "FeatureCollection"})
    numberMatched = ma.fields.Integer()  # noqa: N815 (OGC API - Features member name)
    numberReturned = ma.fields.Integer()  # noqa: N815
    links = ma.fields.List(ma.fields.Nested(LinkSchema))
    features = ma.fields.List(ma.fields.Nested(OpportunityFeatureSchema))


# -- writes ------------------------------------------------------------------------------
class _Moment(ma.fields.AwareDateTime):
    """A London time; a date alone is the start of that day, or with ``end_of_day`` its
    last minute, 23:59, as the spreadsheet reads a deadline given as a date (until
    6 December an API deadline of "2027-02-28" closed at 00:00 that day, a day early)."""

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str) and _DATE_ALONE.match(value.strip()):
            value = value.strip() + ("T23:59:00" if self.end_of_day else "T00:00:00")
        return super()._deserialize(value, attr, data, **kwargs)


_DATE_ALONE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _moment(description: str, *, end_of_day: bool = False, **kwargs: object) -> _Moment:
    alone = "23:59" if end_of_day else "00:00"
    return _Moment(
        end_of_day=end_of_day,
        default_timezone=LONDON_TZ,
        validate=_in_the_calendar,
        metadata={
            "description": f"{description} (ISO 8601; Europe/London if no offset, a date "
            f"alone {alone} that day; from {FIRST_DAY.year} to {LAST_DAY.year})"
        },
        **kwargs,  # type: ignore[arg-type]
    )


def _in_the_calendar(moment: datetime) -> None:
    """A moment on a day the feeds and the deadlines' arithmetic can hold, as a
    ``decision_date`` is (``0001-01-01T00:00+01:00`` has no UTC day at all)."""
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise ma.ValidationError(f"Must be between {FIRST_DAY} and {LAST_DAY}.")


def _text(limit: int | None = None, **kwargs: object) -> ma.fields.String:
    validate = ma.validate.Length(min=1, max=limit) if limit else ma.validate.Length(min=1)
    return ma.fields.String(validate=validate, **kwargs)  # type: ignore[arg-type]


def _money(description: str) -> ma.fields.Float:
    return JsonNumber(
        allow_none=True, validate=ma.validate.Range(min=0, max=10**12),
        metadata={"description": f"{description}, pounds"},
    )  # fmt: skip


class FunderInputSchema(Schema):
    name = _text(300, required=True)
    ref = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "The funder's organisation ref (linked when held)"},
    )


class GrantLengthInputSchema(Schema):
    min = JsonInteger(allow_none=True, validate=ma.validate.Range(min=1, max=240))
    max = JsonInteger(allow_none=True, validate=ma.validate.Range(min=1, max=240))


class ContactInputSchema(Schema):
    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=300))
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=300))


class OpportunityChangeSchema(Schema):
    """The members of an opportunity an officer may change (all optional in a PATCH)."""

    title = _text(300)
    funder = ma.fields.Nested(FunderInputSchema)
    programme = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "A programme id (/api/v1/programmes)"},
    )  # fmt: skip
    summary = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))
    eligibility = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))
    small_org_friendly = JsonBoolean()
    small_org_rule = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=1000))
    amount_min = _money("The smallest award")
    amount_max = _money("The largest award")
    total_pot = _money("The money on offer in all")
    awards_expected = JsonInteger(allow_none=True, validate=ma.validate.Range(min=1, max=100000))
    opens_at = _moment("When bids may be made from; null: open now", allow_none=True)
    closes_at = _moment("The deadline", end_of_day=True)
    decision_date = ma.fields.Date(
        allow_none=True, validate=ma.validate.Range(min=FIRST_DAY, max=LAST_DAY)
    )
    grant_length_months = ma.fields.Nested(GrantLengthInputSchema)
    how_to_apply_url = ma.fields.Url(
        allow_none=True, schemes={"http", "https"}, validate=ma.validate.Length(max=1000)
    )
    contact = ma.fields.Nested(ContactInputSchema, allow_none=True)
    contact_public = JsonBoolean(
        metadata={"description": "Publish the contact (default false: kept, not shown)"}
    )
    themes = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        validate=ma.validate.Length(max=50),
        metadata={"description": "Theme ids"},
    )
    areas = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=120)),
        validate=ma.validate.Length(min=1, max=1000),
        metadata={"description": "Area codes or names: London (E12000007), BCUs, boroughs, wards"},
    )


class OpportunityCreateSchema(OpportunityChangeSchema):
    ref = ma.fields.String(
        required=True,
        validate=[
            ma.validate.Length(min=1, max=120),
            ma.validate.Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
                error="Letters, digits and . _ : - only, starting with a letter or digit.",
            ),
        ],  # fmt: skip
        metadata={
            "description": "Its stable reference (kept for good: ids in feeds are made from it)"
        },
    )
    title = _text(300, required=True)
    funder = ma.fields.Nested(FunderInputSchema, required=True)
    closes_at = _moment("The deadline", end_of_day=True, required=True)
    areas = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=120)),
        required=True,
        validate=ma.validate.Length(min=1, max=1000),
        metadata={"description": "Area codes or names: London (E12000007), BCUs, boroughs, wards"},
    )
