from __future__ import annotations

import marshmallow as ma

from directory.usecases.geography import AREA_TYPES, MAX_SIMPLIFY_M
from directory.web.api import Schema
from directory.web.resources.common import (
    AreaRefSchema,
    DataReleaseSchema,
    PageArgsSchema,
    PageSchema,
    include_other_programmes_field,
)
from directory.web.resources.funding.schemas import (
    _FINANCIAL_YEAR,
    _PROGRAMME,
    _REGRANTS,
    FundingFiltersSchema,
    FundingProgrammesSchema,
    NeedPeriodsSchema,
)


class SimplifyArgsSchema(Schema):
    simplify = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=MAX_SIMPLIFY_M),
        metadata={
            "description": "Simplification tolerance in metres (0 = exact), taken down to "
            "the step at or below it of 0, 0.1, 0.2, 0.5, 1, 2, 5, … 1000, 2000, 5000 (the "
            "answer's simplify_m says which)"
        },
    )


class AreaListArgsSchema(PageArgsSchema, SimplifyArgsSchema):
    type = ma.fields.String(validate=ma.validate.OneOf(AREA_TYPES))
    parent = ma.fields.String(
        validate=ma.validate.Length(max=40),
        metadata={"description": "Only areas inside this area (any level below it)"},
    )
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "Tolerant name match: 'kingston', 'Kensington & Chelsea'"},
    )
    format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "geojson"]),
        metadata={"description": "geojson: the layer as a FeatureCollection (unpaged)"},
    )


class AreaSchema(AreaRefSchema):
    """An area; the members after bbox are the attributes some types carry."""

    parent = ma.fields.Nested(AreaRefSchema, allow_none=True)
    vintage = ma.fields.String(metadata={"description": "Boundary vintage"})
    area_km2 = ma.fields.Float()
    bbox = ma.fields.List(
        ma.fields.Float(), metadata={"description": "[minlon, minlat, maxlon, maxlat]"}
    )
    bcu = ma.fields.String(
        allow_none=True,
        metadata={"description": "borough: its BCU's id (null for the City of London)"},
    )
    inner_london = ma.fields.Boolean(metadata={"description": "borough: Inner London (ONS)"})
    pfa_code = ma.fields.String(
        metadata={"description": "borough: the police force area's GSS code"}
    )
    police_force = ma.fields.String(
        metadata={"description": "borough and bcu: the police force's name"}
    )
    note = ma.fields.String(metadata={"description": "borough: a note (the City of London)"})
    borough_codes = ma.fields.List(
        ma.fields.String(), metadata={"description": "bcu: the GSS codes of its boroughs"}
    )
    mps_code_unverified = ma.fields.String(
        metadata={"description": "bcu: the Met's code for it, not verified with a publication"}
    )
    valid_from = ma.fields.String(
        metadata={"description": "bcu: the date its membership applies from"}
    )
    valid_to = ma.fields.String(
        allow_none=True, metadata={"description": "bcu: null while it applies"}
    )
    generalised = ma.fields.Boolean(
        metadata={"description": "ward: its polygon is generalised (ONS BGC)"}
    )


class AreaNeighbourSchema(AreaRefSchema):
    relation = ma.fields.String(metadata={"description": "touches | across_water"})


class AreaDetailSchema(AreaSchema):
    children = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    neighbours = ma.fields.List(ma.fields.Nested(AreaNeighbourSchema))
    bcu = ma.fields.Nested(
        AreaRefSchema,
        allow_none=True,
        metadata={"description": "borough: its BCU (null for the City of London)"},
    )
    police_force = ma.fields.Raw(
        metadata={
            "description": "borough: the police force (an object); bcu: its name (a string)",
            "oneOf": [{"$ref": "#/components/schemas/PoliceForce"}, {"type": "string"}],
        }
    )
    data_release = ma.fields.Nested(DataReleaseSchema)


class AreaPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(AreaSchema))


class GeometrySchema(Schema):
    """A GeoJSON geometry (RFC 7946), WGS84 longitude, latitude."""

    type = ma.fields.String(
        validate=ma.validate.OneOf(["Point", "Polygon", "MultiPolygon", "GeometryCollection"])
    )
    coordinates = ma.fields.List(
        ma.fields.Raw(),
        metadata={"description": "Positions [lon, lat], nested as the type says"},
    )


class BoundaryPropertiesSchema(Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    type = ma.fields.String()
    parent_code = ma.fields.String(allow_none=True)
    vintage = ma.fields.String()
    simplify_m = ma.fields.Float(metadata={"description": "The tolerance applied, metres"})


class FeatureSchema(Schema):
    type = ma.fields.String(metadata={"description": "Feature"})
    id = ma.fields.String()
    geometry = ma.fields.Nested(GeometrySchema)
    properties = ma.fields.Nested(BoundaryPropertiesSchema)


class BoundaryCollectionSchema(Schema):
    type = ma.fields.String(metadata={"description": "FeatureCollection"})
    features = ma.fields.List(ma.fields.Nested(FeatureSchema))
    data_release = ma.fields.Nested(DataReleaseSchema)


# -- GET /areas/{code}/comparison ---------------------------------------------------------------
class ComparisonArgsSchema(Schema):
    programme = _PROGRAMME
    financial_year = _FINANCIAL_YEAR
    include_regrants = _REGRANTS
    include_other_programmes = include_other_programmes_field()


class SimilarGroupSchema(Schema):
    code = ma.fields.String(metadata={"description": "ITL2 code, e.g. TLI6"})
    name = ma.fields.String(metadata={"description": "e.g. Outer London – South"})


class ClassificationSchema(Schema):
    name = ma.fields.String(metadata={"description": "Which classification groups the boroughs"})
    source = ma.fields.String()
    licence = ma.fields.String()
    note = ma.fields.String(metadata={"description": "What the groups are, and are not"})
    group = ma.fields.Nested(
        SimilarGroupSchema,
        allow_none=True,
        metadata={"description": "The borough's group: ITL2 code (TLI6) and name"},
    )


class ComparisonBoroughSchema(Schema):
    awards = ma.fields.Integer(metadata={"description": "The borough's own awards"})
    amount = ma.fields.Float(metadata={"description": "Their money, £ (shared awards divided)"})
    awards_without_amount = ma.fields.Integer(
        metadata={
            "description": "Of awards, those with no amount recorded: amount counts the known "
            "amounts only, and an area whose every award has none has null rates and no "
            "money rank (its money is not known, not 0)"
        }
    )
    population = ma.fields.Integer(allow_none=True)
    offences = ma.fields.Integer(allow_none=True)
    awards_with_length = ma.fields.Integer()
    dated_awards = ma.fields.Integer(metadata={"description": "Awards timing_rule can date"})
    late_awards = ma.fields.Integer()


class ComparisonMeasureSchema(Schema):
    measure = ma.fields.String(
        metadata={
            "description": "per_1000_residents, per_1000_offences, median_months, "
            "share_36_plus or late_share"
        }
    )
    borough = ma.fields.Float(allow_none=True)
    similar_mean = ma.fields.Float(
        allow_none=True, metadata={"description": "Mean of the similar boroughs' figures"}
    )
    similar_counted = ma.fields.Integer(
        metadata={"description": "How many similar boroughs had the figure"}
    )
    london = ma.fields.Float(allow_none=True)
    rank = ma.fields.Integer(
        allow_none=True, metadata={"description": "Among London's boroughs, 1 the highest"}
    )
    ranked = ma.fields.Integer(metadata={"description": "How many boroughs had the figure"})
    rule = ma.fields.String()
    period = ma.fields.String(metadata={"description": "The data periods the figure uses"})


class ComparisonSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema)
    filters = ma.fields.Nested(FundingFiltersSchema)
    classification = ma.fields.Nested(ClassificationSchema)
    similar_boroughs = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    borough = ma.fields.Nested(ComparisonBoroughSchema)
    measures = ma.fields.List(ma.fields.Nested(ComparisonMeasureSchema))
    periods = ma.fields.Nested(NeedPeriodsSchema)
    programmes = ma.fields.Nested(FundingProgrammesSchema)
    rule = ma.fields.String()
    timing_rule = ma.fields.String()
    notes = ma.fields.List(ma.fields.String())
