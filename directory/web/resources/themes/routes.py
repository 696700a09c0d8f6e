"""The community-safety theme taxonomy."""

from __future__ import annotations

import marshmallow as ma
from flask import Response

from directory.usecases import catalogue
from directory.web import http
from directory.web.api import Blueprint, Schema
from directory.web.resources.common import PageSchema
from directory.web.state import catalogue as queries
from directory.web.state import snapshot

blp = Blueprint("themes", __name__, url_prefix="/api/v1", description="Theme taxonomy")


class ThemeSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    services = ma.fields.Integer(metadata={"description": "Listed services with this theme"})


class ThemePageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(ThemeSchema))


@blp.route("/themes")
@blp.response(200, ThemePageSchema)
def list_themes() -> Response:
    """Every theme (directory/data/themes.csv) with how many services carry it."""
    snapshot()  # the data version, for ETag/Last-Modified
    return http.json_response(catalogue.list_themes(queries()))
