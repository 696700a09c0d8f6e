from __future__ import annotations

import marshmallow as ma

from directory.web.api import Schema
from directory.web.resources.common import DataReleaseSchema


class HealthSchema(Schema):
    status = ma.fields.String()


class ReadySchema(Schema):
    status = ma.fields.String()
    database = ma.fields.String()
    areas = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    postcodes = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    data_release = ma.fields.Nested(DataReleaseSchema)


class RootSchema(Schema):
    name = ma.fields.String()
    version = ma.fields.String()
    openapi_url = ma.fields.String()
    docs_url = ma.fields.String()
