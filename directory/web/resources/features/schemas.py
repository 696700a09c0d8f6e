"""OGC API – Features documents (Part 1, Core and GeoJSON), as the standard's OpenAPI
fragments describe them."""

from __future__ import annotations

from typing import ClassVar

import marshmallow as ma

from directory.usecases.features import DEFAULT_LIMIT, MAX_LIMIT
from directory.usecases.geography import MAX_SIMPLIFY_M
from directory.web.api import Schema
from directory.web.resources.common import ProgrammeId


class FormatArgsSchema(Schema):
    #: a parameter sent twice is a 400 naming it (OGC Part 1: an invalid value is a 400),
    #: not its first value taken as the rest of the API takes it
    one_value_each: ClassVar[bool] = True

    f = ma.fields.String(
        validate=ma.validate.OneOf(["json", "html"]),
        metadata={"description": "json (default) or html; or say it with Accept"},
    )


class ItemArgsSchema(Schema):
    one_value_each: ClassVar[bool] = True  # (as FormatArgsSchema's)

    f = ma.fields.String(
        validate=ma.validate.OneOf(["json", "geojson"]),
        metadata={"description": "Both give GeoJSON (the only encoding of features here)"},
    )
    simplify = ma.fields.Float(
        metadata={
            "description": "areas and services: simplification tolerance in metres, 0 to "
            f"{MAX_SIMPLIFY_M:g} (areas default 0, exact; services 20)",
            "minimum": 0,
            "maximum": MAX_SIMPLIFY_M,
        },
    )


class ItemsArgsSchema(ItemArgsSchema):
    bbox = ma.fields.String(
        metadata={
            "description": "minlon,minlat,maxlon,maxlat in CRS84 (WGS84 longitude first): the "
            "features meeting the box (a site inside it; a service whose coverage meets "
            "it; an area meeting it). A box outside London selects nothing.",
            "example": "-0.13,51.49,-0.09,51.51",
        },
    )
    limit = ma.fields.Integer(
        metadata={
            "description": f"Features per page (default {DEFAULT_LIMIT}); above {MAX_LIMIT} "
            "is taken as the maximum",
            "minimum": 1,
            "default": DEFAULT_LIMIT,
        },
    )
    offset = ma.fields.Integer(
        load_default=0,
        metadata={"description": "Features to skip (the next links carry it)", "minimum": 0},
    )
    datetime = ma.fields.String(
        metadata={
            "description": "sites and services: a grant of the service is live at some time "
            "in this RFC 3339 instant or interval (start/end, '..' for an open end; an "
            "instant on its day in London), e.g. 2025-04-01/2026-03-31. boroughs, wards and bcus "
            "have no time: a valid datetime selects every area",
        },
    )
    theme = ma.fields.String(
        metadata={
            "description": "sites and services: with this theme id (see /api/v1/themes; an id "
            "that names no theme is a 400 with suggestions)"
        }
    )
    programme = ProgrammeId(
        metadata={
            "description": "sites and services: funded by this programme id (one that names "
            "no programme is a 400 with suggestions)"
        }
    )
    organisation = ma.fields.String(
        metadata={
            "description": "sites and services: run by this organisation (ref; one that "
            "names no organisation is a 400 with suggestions)"
        }
    )
    parent = ma.fields.String(
        metadata={
            "description": "areas: inside this area (any level below it, as /areas?parent= "
            "takes it), by code (any case) or name: a borough's wards, a BCU's boroughs or "
            "wards, London's (one that names nothing is a 400 with suggestions)"
        }
    )


class OgcLinkSchema(Schema):
    href = ma.fields.String(required=True)
    rel = ma.fields.String(required=True)
    type = ma.fields.String()
    title = ma.fields.String()


class OgcLandingSchema(Schema):
    title = ma.fields.String()
    description = ma.fields.String()
    links = ma.fields.List(ma.fields.Nested(OgcLinkSchema), required=True)


class OgcConformanceSchema(Schema):
    conformsTo = ma.fields.List(ma.fields.String(), required=True)  # noqa: N815


class _SpatialExtentSchema(Schema):
    bbox = ma.fields.List(ma.fields.List(ma.fields.Float()))
    crs = ma.fields.String()


class _ExtentSchema(Schema):
    spatial = ma.fields.Nested(_SpatialExtentSchema)


class OgcCollectionSchema(Schema):
    id = ma.fields.String(required=True)
    title = ma.fields.String()
    description = ma.fields.String()
    itemType = ma.fields.String()  # noqa: N815
    crs = ma.fields.List(ma.fields.String())
    extent = ma.fields.Nested(_ExtentSchema)
    links = ma.fields.List(ma.fields.Nested(OgcLinkSchema), required=True)


class OgcCollectionsSchema(Schema):
    links = ma.fields.List(ma.fields.Nested(OgcLinkSchema), required=True)
    collections = ma.fields.List(ma.fields.Nested(OgcCollectionSchema), required=True)


class OgcFeatureSchema(Schema):
    type = ma.fields.String(required=True, metadata={"enum": ["Feature"]})
    id = ma.fields.Raw(metadata={"description": "sites and services: an integer; areas: the code"})
    geometry = ma.fields.Dict(allow_none=True, required=True)
    properties = ma.fields.Dict(allow_none=True, required=True)
    links = ma.fields.List(ma.fields.Nested(OgcLinkSchema))


class OgcFeatureCollectionSchema(Schema):
    type = ma.fields.String(required=True, metadata={"enum": ["FeatureCollection"]})
    numberMatched = ma.fields.Integer()  # noqa: N815
    numberReturned = ma.fields.Integer()  # noqa: N815
    links = ma.fields.List(ma.fields.Nested(OgcLinkSchema))
    features = ma.fields.List(ma.fields.Nested(OgcFeatureSchema), required=True)
