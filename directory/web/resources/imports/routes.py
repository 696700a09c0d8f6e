"""Import runs and the directory's status."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response

from directory.usecases import catalogue
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema, Schema
from directory.web.resources.common import DataReleaseSchema, PageArgsSchema, PageSchema
from directory.web.state import catalogue as queries
from directory.web.state import etag_from_body, paged_response, snapshot, state, today

blp = Blueprint("imports", __name__, url_prefix="/api/v1", description="Imports and status")


class ImportArgsSchema(PageArgsSchema):
    source = ma.fields.String(validate=ma.validate.Length(min=1, max=80))


class ImportSchema(Schema):
    id = ma.fields.Integer()
    source = ma.fields.String()
    format = ma.fields.String()
    location = ma.fields.String()
    mode = ma.fields.String(metadata={"description": "full | incremental"})
    checksum = ma.fields.String(allow_none=True)
    status = ma.fields.String(
        metadata={
            "description": "succeeded | unchanged | failed | refused (another import or "
            "refresh held the write lock: nothing was read)"
        }
    )
    started_at = ma.fields.String()
    finished_at = ma.fields.String(allow_none=True)
    counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer()),
        metadata={
            "description": "Per table written (services, grants …): created, updated, "
            "unchanged and the like, counted"
        },
    )
    errors = ma.fields.Integer()
    warnings = ma.fields.Integer()


class ImportProblemSchema(Schema):
    row = ma.fields.Integer(allow_none=True)
    column = ma.fields.String(allow_none=True)
    value = ma.fields.String(allow_none=True)
    message = ma.fields.String()
    severity = ma.fields.String(metadata={"description": "error | warning"})


class ImportDetailSchema(ImportSchema):
    problems = ma.fields.List(
        ma.fields.Nested(ImportProblemSchema),
        metadata={"description": "row, column, value, message, severity"},
    )


class ImportPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(ImportSchema))


class StatusSchema(Schema):
    data_version = ma.fields.Integer()
    data_loaded_at = ma.fields.String()
    geography = ma.fields.Nested(
        DataReleaseSchema,
        metadata={"description": "The loaded geography: its release, and which snapshot or "
                  "refreshed release it came from"},
    )  # fmt: skip
    counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "Rows per table (services, grants, organisations …)"},
    )
    stale_services = ma.fields.Integer()
    stale_after_days = ma.fields.Integer()
    sources = ma.fields.List(
        ma.fields.Nested(ImportSchema), metadata={"description": "Last run per source"}
    )


@blp.route("/imports")
@blp.arguments(ImportArgsSchema, location="query")
@blp.response(200, ImportPageSchema)
def list_imports(args: dict[str, Any]) -> Response:
    """Import runs, newest first."""
    snapshot()
    etag_from_body()
    body = catalogue.list_imports(
        queries(), source=args.get("source"), page=args["page"], per_page=args["per_page"]
    )
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/imports/<int:run_id>")
@blp.response(200, ImportDetailSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE, description="import-not-found"
)
def get_import(run_id: int) -> Response:
    """One import run with every problem it reported (row, column, value, message)."""
    snapshot()
    etag_from_body()
    return http.json_response(catalogue.import_detail(queries(), run_id))


@blp.route("/status")
@blp.response(200, StatusSchema)
def get_status() -> Response:
    """Data version, counts, stale services and the last run of every source."""
    etag_from_body()
    return http.json_response(catalogue.status(queries(), snapshot(), state().settings, today()))
