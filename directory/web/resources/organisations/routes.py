"""Organisations: providers, funders and intermediaries."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from directory.usecases import catalogue
from directory.usecases.keys import Principal
from directory.usecases.merging import merge_organisations
from directory.web import http, preconditions, writing
from directory.web.api import Blueprint, ProblemSchema
from directory.web.auth import requires_key
from directory.web.resources.organisations.schemas import (
    OrganisationDetailSchema,
    OrganisationListArgsSchema,
    OrganisationMergeReportSchema,
    OrganisationMergeSchema,
    OrganisationPageSchema,
)
from directory.web.state import catalogue as queries
from directory.web.state import etag_from_body, paged_response, snapshot, state, today

blp = Blueprint("organisations", __name__, url_prefix="/api/v1", description="Organisations")


@blp.route("/organisations")
@blp.arguments(OrganisationListArgsSchema, location="query")
@blp.response(200, OrganisationPageSchema)
def list_organisations(args: dict[str, Any]) -> Response:
    """Organisations by name; `q` filters by name, `type` by kind."""
    body = catalogue.list_organisations(
        queries(), text=args.get("q"), type_=args.get("type"),
        page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/organisations/<ref:key>")
@blp.response(200, OrganisationDetailSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="organisation-not-found",
)  # fmt: skip
@blp.alt_response(
    308, description="The id or ref of an organisation merged into another: to that one's "
    "address (`Location`)",
    headers={"Location": {"description": "The organisation it was merged into",
                          "schema": {"type": "string"}}},
)  # fmt: skip
def get_organisation(key: str) -> Response:
    """One organisation (by id or ref) with its services and the grants it received or made.
    Its strong ETag hashes the body: the tag a merge of it sends in `If-Match`. The id or
    ref of an organisation merged into another redirects (308) to that one."""
    moved = catalogue.organisation_moved(queries(), key)
    if moved is not None:  # an API's redirect: the Location and no body
        return Response(status=308, headers={"Location": moved})
    etag_from_body()
    return http.json_response(
        catalogue.organisation_detail(queries(), snapshot(), state().settings, today(), key)
    )


def _organisation(key: str) -> writing.Render:
    """The organisation as GET /organisations/{key} shows it, read fresh."""
    return writing.fresh(
        lambda q: catalogue.organisation_detail(q, snapshot(), state().settings, today(), key)
    )


@blp.route("/organisations/<ref:key>/merge", methods=["POST"])
@requires_key(blp, "officer")
@preconditions.documented(blp)
@blp.doc(requestBody=writing.json_body(OrganisationMergeSchema))
@blp.response(200, OrganisationMergeReportSchema, description="Merged (or, a dry run, what "
              "would be): what moved")  # fmt: skip
@writing.documented(blp, {
    404: "organisation-not-found: the organisation in the path, or `into`",
    409: "organisation-merged: one of them was merged into another earlier (`merged_into`); "
    "write-locked: an import is running",
    415: writing.UNSUPPORTED,
    422: "same-organisation: both name one organisation; invalid-input (`errors`)",
})  # fmt: skip
def merge_organisation(key: str, principal: Principal) -> Response:
    """Merge this organisation (a duplicate) into the one `into` names: its services,
    grants, opportunities, API keys, feedback and practice notes move there, the fields
    that one lacks are filled from this one's, and this one's id and ref name that one from
    now on (redirects, filters, the next import). All or nothing; recorded as an import run
    with change events. `If-Match` with this organisation's ETag is required, but not for
    a dry run."""
    body = writing.body(OrganisationMergeSchema())
    app_state = state()
    try:
        report = merge_organisations(
            app_state.db, key, body["into"], dry_run=body["dry_run"], actor=principal.name,
            location=f"POST {request.path}",
            precondition=None if body["dry_run"] else writing.guard(_organisation(key)),
        )  # fmt: skip
    finally:
        app_state.geography.expire()  # this worker reads the new data version at once
    response = http.json_response(report.to_dict())
    response.headers["Cache-Control"] = "no-store"
    return response
