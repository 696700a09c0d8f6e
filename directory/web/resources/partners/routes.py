"""Partners: organisations working on the same problems nearby."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.errors import InvalidInputError
from directory.usecases import geography, patch
from directory.usecases.catalogue import unknown_organisation
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.patch.schemas import PartnerArgsSchema, PartnersSchema
from directory.web.state import catalogue, directory_reads, link_header

blp = Blueprint("partners", __name__, url_prefix="/api/v1", description="Partners nearby")


@blp.route("/partners")
@blp.arguments(PartnerArgsSchema, location="query")
@blp.response(200, PartnersSchema)
@blp.alt_response(
    422, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE, description="invalid-input"
)
@blp.alt_response(
    404,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="organisation-not-found",
)
def get_partners(args: dict[str, Any]) -> Response:
    """Organisations working on overlapping themes in the same or neighbouring boroughs
    (neighbours across the Thames count), ranked, each with its reasons: shared themes,
    shared or neighbouring boroughs, distance between sites, shared funders.

    Give `organisation` (id or ref), or `postcode` with one or more `theme`."""
    if (args.get("organisation") is None) == (args.get("postcode") is None):
        raise InvalidInputError(
            "Give either organisation, or postcode with theme.",
            errors={"organisation": ["or postcode"], "postcode": ["or organisation"]},
        )
    reads = directory_reads()
    snap, index = reads.snap, reads.index
    themes = args.get("theme", [])
    if args.get("organisation") is not None:
        org_id = catalogue().organisation_id(args["organisation"])
        if org_id is None:
            raise unknown_organisation(catalogue(), args["organisation"])
        subject = index.organisations.get(org_id)
        if subject is None:  # an organisation with no active services (a funder, say)
            row = catalogue().organisation(org_id)
            subject = patch.OrganisationProfile(org_id, row.ref, row.name, row.type)
    else:
        if not themes:
            raise InvalidInputError(
                "With postcode, say what the work is about: one or more theme ids.",
                errors={"theme": ["required with postcode"]},
            )
        answer = geography.lookup_postcode(snap, reads.repo, args["postcode"])
        point = (answer["easting"], answer["northing"])
        subject = patch.subject_for_place(answer["borough"]["code"], point, themes)
    page, per_page = args["page"], args["per_page"]
    body = patch.partners(index, snap, subject, page=page, per_page=per_page, themes=themes)
    response = http.json_response(body)
    response.headers["Link"] = link_header(page, per_page, body["partners"]["total_pages"])
    return response
