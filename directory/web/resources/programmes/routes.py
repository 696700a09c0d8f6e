"""Funding programmes: totals, and each programme's allocation formula beside its actual
allocations."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.usecases.funding import fairness, programmes
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.programmes.schemas import (
    ProgrammeDetailArgsSchema,
    ProgrammeDetailSchema,
    ProgrammeFairnessArgsSchema,
    ProgrammeFairnessSchema,
    ProgrammeListArgsSchema,
    ProgrammePageSchema,
)
from directory.web.state import facts, funding_answer, paged_response, snapshot, state, today

blp = Blueprint(
    "programmes", __name__, url_prefix="/api/v1", description="Funding programmes and formulas"
)


@blp.route("/programmes")
@blp.arguments(ProgrammeListArgsSchema, location="query")
@blp.response(200, ProgrammePageSchema)
def list_programmes(args: dict[str, Any]) -> Response:
    """Funding programmes with their number of awards and total amount, largest first, and
    whether their allocation formula is documented."""
    body = programmes.list_programmes(
        facts(), page=args["page"], per_page=args["per_page"],
        include_regrants=args["include_regrants"],
        include_other_programmes=args["include_other_programmes"],
    )  # fmt: skip
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/programmes/<string:programme_id>")
@blp.arguments(ProgrammeDetailArgsSchema, location="query")
@blp.response(200, ProgrammeDetailSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE, description="programme-not-found"
)
def get_programme(args: dict[str, Any], programme_id: str) -> Response:
    """A programme's allocation formula (inputs, weights, sources; unknowns marked unknown)
    beside its actual allocations: London-wide, per BCU and per borough, in all and per
    financial year, with each borough's share of the money beside its share of population and
    of recorded offences."""
    return funding_answer("programme", args, lambda data: programmes.programme_detail(
        data, snapshot(), state().settings, today(), programme_id.lower(),
        include_regrants=args["include_regrants"],
    ), programme_id.lower())  # fmt: skip


@blp.route("/programmes/<string:programme_id>/fairness")
@blp.arguments(ProgrammeFairnessArgsSchema, location="query")
@blp.response(200, ProgrammeFairnessSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE, description="programme-not-found"
)
def get_programme_fairness(args: dict[str, Any], programme_id: str) -> Response:
    """Does the money track recorded crime? For each financial year with money placed in
    boroughs: each borough's share of the money beside its share of recorded offences and of
    population, Spearman's rank correlation of money and offences, the boroughs furthest below
    and above their offence share, and the boroughs that got less than a neighbour in their
    BCU despite more offences; the method and its limits in words."""
    return funding_answer("fairness", args, lambda data: fairness.programme_fairness(
        data, snapshot(), programme_id.lower(), financial_year_text=args.get("financial_year"),
        include_regrants=args["include_regrants"],
    ), programme_id.lower())  # fmt: skip
