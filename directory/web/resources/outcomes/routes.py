"""Outcomes of funded services: per service, and summarised per borough or theme."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.store.repositories.funding import FundingQueries
from directory.usecases.funding import outcomes
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.outcomes.schemas import (
    OutcomeSummaryArgsSchema,
    OutcomeSummarySchema,
    ServiceOutcomesSchema,
)
from directory.web.state import catalogue, connection, snapshot

blp = Blueprint(
    "outcomes", __name__, url_prefix="/api/v1", description="Outcomes of funded services"
)
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}


@blp.route("/services/<string:key>/outcomes")
@blp.response(200, ServiceOutcomesSchema)
@blp.alt_response(404, description="service-not-found", **PROBLEM)
def service_outcomes(key: str) -> Response:
    """A service's outcomes (by id or ref): metric, period, value, target, unit, whether the
    target was met, and the report or evaluation it comes from."""
    snapshot()  # the data version, for ETag and Last-Modified
    return http.json_response(
        outcomes.service_outcomes(FundingQueries(connection()), catalogue(), key)
    )


@blp.route("/outcomes/summary")
@blp.arguments(OutcomeSummaryArgsSchema, location="query")
@blp.response(200, OutcomeSummarySchema)
@blp.alt_response(404, description="area-not-found", **PROBLEM)
def outcomes_summary(args: dict[str, Any]) -> Response:
    """What was measured, against what target, how many met it, with links to the reports
    and evaluations: per borough (London-wide and BCU-wide services apart) or per theme."""
    return http.json_response(
        outcomes.outcomes_summary(
            FundingQueries(connection()), snapshot(), by=args["by"], area=args.get("area")
        )
    )
