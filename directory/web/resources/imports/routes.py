"""Import runs and the directory's status."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import UnsupportedMediaType

from directory.errors import InvalidInputError
from directory.ingest.run import FORMATS, MAX_SOURCE_NAME, MODES
from directory.ingest.values import unstorable
from directory.usecases import catalogue, uploads
from directory.usecases.keys import Principal
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema, Schema
from directory.web.auth import requires_key
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
    actor = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Who asked for the run over the API: the name of the API key "
            "(never the key); null for runs of the `directory` command"
        },
    )


class ImportProblemSchema(Schema):
    row = ma.fields.Integer(allow_none=True)
    column = ma.fields.String(allow_none=True)
    value = ma.fields.String(allow_none=True)
    message = ma.fields.String()
    severity = ma.fields.String(metadata={"description": "error | warning"})


class NamedRecordSchema(Schema):
    ref = ma.fields.String()
    name = ma.fields.String()
    # (a Python keyword: declared by its data key)
    from_source = ma.fields.String(
        data_key="from",
        metadata={"description": "moved: the source that held it before this run"},
    )
    into = ma.fields.String(
        metadata={"description": "merged (an organisation merged into another, source "
                  "merge): the ref of the organisation it was merged into"},
    )  # fmt: skip


class ImportDetailSchema(ImportSchema):
    records = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(
            keys=ma.fields.String(), values=ma.fields.List(ma.fields.Nested(NamedRecordSchema))
        ),
        metadata={
            "description": "Per table (services, grants, opportunities): the records "
            "withdrawn, restored and moved (taken over from another source, `from`), each "
            "by ref and name; the first 1,000 of each, as counts counts them all"
        },
    )
    problems = ma.fields.List(
        ma.fields.Nested(ImportProblemSchema),
        metadata={
            "description": "Every problem the run reported (row, column, value, message, "
            "severity), up to 100,000"
        },
    )
    problems_truncated = ma.fields.Boolean(
        metadata={
            "description": "true when the run reported more problems than it kept (over "
            "100,000; runs recorded by earlier versions kept 500), or a dry run more than the "
            "500 it sends back: errors and warnings count them all"
        }
    )


class ImportUploadSchema(Schema):
    """The form of ``POST /api/v1/imports`` (multipart/form-data)."""

    file = ma.fields.Raw(
        required=True,
        metadata={
            "type": "string", "format": "binary",
            "description": "The file: the directory template (.csv, .xlsx), 360Giving (.json, "
            "or its flat .csv/.xlsx) or Open Referral HSDS 3.0 (.json)",
        },
    )  # fmt: skip
    source = ma.fields.String(
        validate=ma.validate.Length(min=1, max=MAX_SOURCE_NAME),
        metadata={"description": "The source's name, which owns the records it lists "
                  "(default: from the file's name; mode=full needs it), as `directory "
                  "import --source`"},
    )  # fmt: skip
    format = ma.fields.String(
        validate=ma.validate.OneOf(FORMATS),
        metadata={"description": "Recognised from the file if omitted"},
    )
    mode = ma.fields.String(
        load_default="incremental",
        validate=ma.validate.OneOf(MODES),
        metadata={"description": "full: withdraw this source's records the file no longer lists"},
    )
    dry_run = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "true: check and report what would change; write nothing"},
    )
    take_over = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "true: records another source holds that the file lists "
                  "move to this source; otherwise such a file is refused (422 import-failed), "
                  "as `directory import --take-over`"},
    )  # fmt: skip
    allow_withdrawals = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "true: a full import may withdraw more than half of what "
                  "its source holds; otherwise it is refused (422 import-failed), as "
                  "`directory import --allow-withdrawals`"},
    )  # fmt: skip


class ImportResultSchema(ImportDetailSchema):
    id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The run's id; null for a dry run"}
    )
    status = ma.fields.String(
        metadata={"description": "succeeded | unchanged | dry-run (nothing was written)"}
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


@blp.route("/imports", methods=["POST"])
@requires_key(blp, "officer")
@blp.doc(
    requestBody={
        "required": True,
        "content": {"multipart/form-data": {"schema": ImportUploadSchema}},
    }
)
@blp.response(201, ImportResultSchema, description="Imported: the run, as /imports/{run_id}")
@blp.alt_response(
    200, schema=ImportResultSchema, success=True,
    description="A dry run: what the run would be (no id); nothing was written",
)  # fmt: skip
@blp.alt_response(
    409, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="write-locked: another import or refresh is running (recorded as a refused "
    "run, `import_run`, unless a dry run)",
)  # fmt: skip
@blp.alt_response(
    413, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="payload-too-large: the upload is larger than DIRECTORY_MAX_UPLOAD_MB; "
    "import-too-long: importing it ran past DIRECTORY_UPLOAD_SECONDS (45 s), so it was "
    "stopped and nothing was written (`directory import` has no such limit)",
)  # fmt: skip
@blp.alt_response(
    415, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="unsupported-file-type: not a .csv, .xlsx or .json file (`accepted`); "
    "unsupported-media-type: the body is not multipart/form-data",
)  # fmt: skip
@blp.alt_response(
    422, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="import-failed: the file has errors and nothing was written (`problems`: "
    "row, column, value, message; `import_run`: the failed run); invalid-input: a form "
    "field is invalid (`errors`)",
)  # fmt: skip
@blp.alt_response(
    507, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="insufficient-storage: the server's temporary space, where an import sets "
    "its rows aside, is full; nothing was written",
)  # fmt: skip
def create_import(principal: Principal) -> Response:
    """Import a file as `directory import` does (officer or admin key): all or nothing,
    under the directory's write lock, recorded as an import run naming the key (`actor`).
    `dry_run=true` checks it and reports what would change without writing."""
    app_state = state()
    upload = _upload(app_state.settings.max_upload_mb)
    snapshot()  # (the import checks the geography the database holds, under the lock)
    body = uploads.import_upload(
        app_state.db, app_state.settings, app_state.geography, upload, principal
    )
    if upload.dry_run:
        return http.json_response(body)
    response = http.json_response(body, status=201)
    response.headers["Location"] = f"/api/v1/imports/{body['id']}"
    return response


def _upload(max_mb: int) -> uploads.Upload:
    """The multipart form, read under the upload cap (413 above it) and validated."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data, in the field `file`.")
    request.max_content_length = max_mb * 2**20
    form: dict[str, Any] = request.form.to_dict()
    if "file" in request.files:
        form["file"] = request.files["file"]
    try:
        args = ImportUploadSchema().load(form, unknown=ma.RAISE)
    except ma.ValidationError as error:
        raise InvalidInputError(
            "The form is invalid: " + "; ".join(f"{k}: {' '.join(map(str, v))}"
                                               for k, v in error.messages.items()),
            errors=error.messages,
        ) from None  # fmt: skip
    file: FileStorage = args["file"]
    if not isinstance(file, FileStorage):
        raise InvalidInputError("`file` must be a file.", errors={"file": ["Not a file."]})
    # (stored as the run's source and location: PostgreSQL's text cannot hold a NUL)
    for field, what, text in (("source", "The source name", args.get("source")),
                              ("file", "The file's name", file.filename)):  # fmt: skip
        if text and (why := unstorable(text)):
            raise InvalidInputError(f"{what} {why}.", errors={field: [f"{what} {why}."]})
    return uploads.Upload(
        data=file.read(), filename=file.filename or "", format=args.get("format"),
        source=args.get("source"), mode=args["mode"], dry_run=args["dry_run"],
        take_over=args["take_over"], allow_withdrawals=args["allow_withdrawals"],
    )  # fmt: skip


@blp.route("/status")
@blp.response(200, StatusSchema)
def get_status() -> Response:
    """Data version, counts, stale services and the last run of every source."""
    etag_from_body()
    return http.json_response(catalogue.status(queries(), snapshot(), state().settings, today()))
