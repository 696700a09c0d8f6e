"""Postcodes and outcodes → ward, borough, BCU."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import UnicodeConverter

from directory.usecases import geography
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.postcodes.schemas import (
    BulkLookupSchema,
    BulkResultSchema,
    OutcodeSchema,
    PostcodeSchema,
)
from directory.web.state import geography_repo, snapshot, state

blp = Blueprint(
    "postcodes", __name__, url_prefix="/api/v1", description="Postcode and outcode lookups"
)
PROBLEM = http.PROBLEM_MIMETYPE


class PostcodeConverter(UnicodeConverter):
    """A postcode in a path: any segment but ``lookup``, so that /postcodes/lookup is only
    the bulk lookup (POST; a GET there is a 405 whose Allow names POST) rather than also
    the postcode "lookup" (its Allow named GET too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.regex = r"(?!lookup\Z)" + self.regex  # UnicodeConverter's: [^/]{1,}


@blp.record_once
def _register_converter(setup: BlueprintSetupState) -> None:
    setup.app.url_map.converters["postcode"] = PostcodeConverter


@blp.route("/postcodes/<postcode:postcode>")
@blp.response(200, PostcodeSchema)
@blp.alt_response(
    422,
    schema=ProblemSchema,
    content_type=PROBLEM,
    description="Malformed postcode (invalid-postcode)",
)
@blp.alt_response(
    404,
    schema=ProblemSchema,
    content_type=PROBLEM,
    description="outside-coverage, postcode-terminated (with `terminated` and `last_known`) "
    "or postcode-not-found (with `outcode_boroughs`)",
)
def get_postcode(postcode: str) -> Response:
    """Ward, borough, BCU, region and police force of a London postcode.

    Tolerant of case and spacing (`sw1a1aa`, ` SW1A 1AA `)."""
    return http.json_response(geography.lookup_postcode(snapshot(), geography_repo(), postcode))


@blp.route("/postcodes/lookup", methods=["POST"])
@blp.arguments(BulkLookupSchema)
@blp.response(200, BulkResultSchema)
@blp.alt_response(
    413, schema=ProblemSchema, content_type=PROBLEM, description="More than 1,000 postcodes"
)
def lookup_postcodes(body: dict[str, Any]) -> Response:
    """Up to 1,000 postcodes: a result or a problem per item, in the order sent."""
    results = geography.lookup_postcodes(
        snapshot(), geography_repo(), body["postcodes"], state().settings.bulk_limit
    )
    found = sum(1 for r in results if "result" in r)
    return http.json_response(
        {"results": results, "found": found, "problems": len(results) - found}
    )


@blp.route("/outcodes/<string:outcode>")
@blp.response(200, OutcodeSchema)
@blp.alt_response(404, schema=ProblemSchema, content_type=PROBLEM, description="outcode-not-found")
@blp.alt_response(422, schema=ProblemSchema, content_type=PROBLEM, description="Malformed outcode")
def get_outcode(outcode: str) -> Response:
    """The boroughs, wards and BCUs an outcode's live postcodes fall in, with counts."""
    return http.json_response(geography.lookup_outcode(snapshot(), geography_repo(), outcode))
