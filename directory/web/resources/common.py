"""Schemas shared by several resources."""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma

from directory.usecases.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, moment_text
from directory.web.api import AreaRefSchema, Schema

__all__ = ["AreaRefSchema"]  # defined beside the problem schema, which names areas too


#: the days a ``live_on`` may name: wide enough for any grant's dates, narrow enough that the
#: arithmetic on them (three years back for recent awards, funding ending within N days)
#: stays inside the calendar
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


class QueryMoment(ma.fields.AwareDateTime):
    """A date-time in a query: an offset's "+" that arrived as a space put back
    (``moment_text``), and a refusal that shows what was received."""

    def _deserialize(
        self, value: object, attr: str | None, data: object, **kwargs: object
    ) -> object:
        text = moment_text(value) if isinstance(value, str) else value
        try:
            return super()._deserialize(text, attr, data, **kwargs)
        except ma.ValidationError:
            raise ma.ValidationError(
                f"Not a valid date-time (ISO 8601, e.g. 2026-01-31T09:00:00Z); got {str(value)[:60]!r}."
            ) from None


class ProgrammeId(ma.fields.String):
    """A programme id as a filter takes it, in any case: ids are lower-case slugs
    (``directory.ingest.values.slug``, programmes.csv), so ``LCPF-Direct`` names
    ``lcpf-direct`` as ``e09000022`` names Lambeth (a 404 before)."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        return super()._deserialize(value, attr, data, **kwargs).lower()


def live_on_field(description: str) -> ma.fields.Date:
    """A ``live_on`` day (YYYY-MM-DD, 1900-01-01 to 2199-12-31; a 422 outside)."""
    return ma.fields.Date(
        validate=ma.validate.Range(min=FIRST_DAY, max=LAST_DAY),
        metadata={"description": f"{description}. YYYY-MM-DD, {FIRST_DAY} to {LAST_DAY}"},
    )


def include_other_programmes_field(
    kind: type[ma.fields.Boolean] = ma.fields.Boolean,
) -> ma.fields.Boolean:
    """``include_other_programmes``: the funding answers count community-safety programmes
    only unless it is true (directory/data/community_safety.py). ``kind``: a JSON body's
    field (``JsonBoolean``) where it is not a query string's."""
    return kind(
        load_default=False,
        metadata={
            "description": "Count every programme. By default only community-safety "
            "programmes are counted (programmes.csv's community_safety column; a programme an "
            "import named by its name's words or its funder, see "
            "directory/data/community_safety.toml); the answer's `programmes` member states "
            "the rule applied and what was left out"
        },
    )


class PoliceForceSchema(Schema):
    name = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Police force area GSS code"})
    note = ma.fields.String(
        metadata={"description": "Present for the City of London, which no Met BCU covers"}
    )


class DataOriginSchema(Schema):
    kind = ma.fields.String(
        metadata={
            "description": "snapshot: the London snapshot packaged with the project; refresh: "
            "a release fetched from the official publishers (directory geodata refresh); "
            "directory: a data directory laid out like shared/data"
        }
    )
    id = ma.fields.String(
        allow_none=True,
        metadata={"description": "The snapshot's or release's id (e.g. london-78f0c0a01175)"},
    )
    description = ma.fields.String()


class DataBoundariesSchema(Schema):
    boroughs = ma.fields.String(metadata={"description": "The borough boundaries' release"})
    wards = ma.fields.String(metadata={"description": "The ward boundaries' release"})
    ward_vintage = ma.fields.String(metadata={"description": "The wards' vintage (e.g. 2022)"})
    bcu_membership_valid_from = ma.fields.String(
        metadata={"description": "The date the BCU membership applies from"}
    )


class DataReleaseSchema(Schema):
    version = ma.fields.Integer(
        metadata={
            "description": "The geography release the answer was made from (its data release "
            'id: `directory init`\'s "geography release N"); it moves only when boundaries or '
            "postcodes are loaded, not with imports and writes (those move /status's "
            "data_version)"
        }
    )
    loaded_at = ma.fields.String(
        metadata={"description": "When that geography release was loaded (RFC 3339, UTC)"}
    )
    label = ma.fields.String(metadata={"description": "What that release holds"})
    data = ma.fields.Nested(
        DataOriginSchema,
        allow_none=True,
        metadata={"description": "Which snapshot or release the geography was loaded from"},
    )
    postcodes = ma.fields.String(
        allow_none=True, metadata={"description": "The live postcodes' release (Code-Point Open)"}
    )
    terminated_postcodes = ma.fields.String(
        allow_none=True,
        metadata={"description": "The terminated postcodes' release (NSPL), a string"},
    )
    boundaries = ma.fields.Nested(DataBoundariesSchema)


class HierarchySchema(Schema):
    ward = ma.fields.Nested(AreaRefSchema, allow_none=True)
    borough = ma.fields.Nested(AreaRefSchema)
    bcu = ma.fields.Nested(
        AreaRefSchema,
        allow_none=True,
        metadata={"description": "null for the City of London (City of London Police)"},
    )
    region = ma.fields.Nested(AreaRefSchema)
    police_force = ma.fields.Nested(PoliceForceSchema)


class ThemeRefSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String()


class ProgrammeRefSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String(allow_none=True)


class RefNameSchema(Schema):
    ref = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)


class OtherProgrammesSchema(Schema):
    awards = ma.fields.Integer()
    amount = ma.fields.Float(metadata={"description": "Pounds"})
    programmes = ma.fields.Integer(metadata={"description": "How many programmes (listings)"})


class ProgrammesCountedSchema(Schema):
    """Which programmes an answer counts (directory/data/community_safety.py)."""

    counted = ma.fields.String(
        metadata={
            "description": "community_safety (the default), all (include_other_programmes=true) "
            "or named (programme= names one, counted whatever its classification)"
        }
    )
    rule = ma.fields.String(metadata={"description": "The rule applied, in words"})
    programme = ma.fields.String(
        metadata={"description": "The patch's awards with programme=: the programme id"}
    )
    other_programmes = ma.fields.Nested(
        OtherProgrammesSchema,
        metadata={
            "description": "community_safety only: the awards of other programmes the same "
            "filters would have counted"
        },
    )


class SiteSchema(Schema):
    """A delivery site."""

    ref = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    postcode = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    borough = ma.fields.Nested(AreaRefSchema, allow_none=True)
    ward = ma.fields.Nested(AreaRefSchema, allow_none=True)
    demo = ma.fields.Boolean()


class ServiceContactSchema(Schema):
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    website = ma.fields.String(allow_none=True)


class ContactSchema(Schema):
    """A patch contact: a borough SPOC, SNB chair or BCU lead."""

    id = ma.fields.Integer(
        metadata={"description": "The contact's id (for PATCH /api/v1/contacts/{id})"}
    )
    area = ma.fields.Nested(AreaRefSchema)
    role = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    demo = ma.fields.Boolean()
    version = ma.fields.Integer(
        metadata={
            "description": "How many changes have been recorded to it (its history's length; "
            "a change to a detail not published counts too, so the ETag moves with every "
            "change and two writers cannot both pass If-Match)"
        }
    )


def page_field(**metadata: Any) -> ma.fields.Integer:
    """``page``: from 1 (the first, by default) to 1,000,000."""
    return ma.fields.Integer(
        load_default=1, validate=ma.validate.Range(min=1, max=1_000_000), metadata=metadata
    )


class PageArgsSchema(Schema):
    page = page_field()
    per_page = ma.fields.Integer(
        load_default=DEFAULT_PER_PAGE, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE)
    )


class PageSchema(Schema):
    """The Open Referral page envelope."""

    total_items = ma.fields.Integer()
    total_pages = ma.fields.Integer()
    page_number = ma.fields.Integer()
    size = ma.fields.Integer()
    first_page = ma.fields.Boolean()
    last_page = ma.fields.Boolean()
    empty = ma.fields.Boolean()
