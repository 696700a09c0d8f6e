"""Outcomes of funded services: per service, and summarised per borough or theme; adding,
changing and removing a service's outcomes (with an API key)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response

from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.funding import FundingQueries
from directory.usecases import writes
from directory.usecases.funding import outcomes
from directory.usecases.keys import Principal
from directory.web import http, preconditions, writing
from directory.web.api import Blueprint, ProblemSchema
from directory.web.auth import requires_key
from directory.web.resources.outcomes.schemas import (
    OutcomeCreateSchema,
    OutcomeDetailSchema,
    OutcomePatchSchema,
    OutcomeSummaryArgsSchema,
    OutcomeSummarySchema,
    ServiceOutcomesSchema,
)
from directory.web.state import (
    catalogue,
    connection,
    etag_from_body,
    facts,
    snapshot,
    sql_connection,
    today,
)

blp = Blueprint(
    "outcomes", __name__, url_prefix="/api/v1", description="Outcomes of funded services"
)
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}


@blp.route("/services/<service_ref:key>/outcomes")
@blp.response(200, ServiceOutcomesSchema)
@blp.alt_response(404, description="service-not-found", **PROBLEM)
def service_outcomes(key: str) -> Response:
    """A service's outcomes (by id or ref): metric, period, value, target, unit, whether the
    target was met, the report or evaluation it comes from, when it was measured and how many
    months after the service's funding ended."""
    snapshot()  # the data version, for ETag and Last-Modified
    return http.json_response(
        outcomes.service_outcomes(FundingQueries(connection()), catalogue(), key)
    )


@blp.route("/outcomes/summary")
@blp.arguments(OutcomeSummaryArgsSchema, location="query")
@blp.response(200, OutcomeSummarySchema)
@blp.alt_response(404, description="area-not-found, area-ambiguous", **PROBLEM)
def outcomes_summary(args: dict[str, Any]) -> Response:
    """What was measured, against what target, how many met it, with links to the reports
    and evaluations, and how many funded services were followed up 6 and 12 months after
    their funding ended: per borough (London-wide and BCU-wide services apart) or per theme."""
    snap = snapshot()
    return http.json_response(
        outcomes.outcomes_summary(
            FundingQueries(sql_connection()),  # (outcomes read by SQL: see state.tag_sql_reads)
            snap,
            facts(),
            today(),
            by=args["by"],
            area=args.get("area"),
        )
    )


@blp.route("/services/<service_ref:key>/outcomes/<int:outcome_id>")
@blp.response(200, OutcomeDetailSchema)
@blp.alt_response(404, description="service-not-found, outcome-not-found", **PROBLEM)
def get_outcome(key: str, outcome_id: int) -> Response:
    """One outcome of a service. Its strong ETag hashes the body (for `If-Match`)."""
    snapshot()
    etag_from_body()
    return http.json_response(
        outcomes.service_outcome(FundingQueries(connection()), catalogue(), key, outcome_id)
    )


def _outcome(key: str, outcome_id: int) -> writing.Render:
    """The outcome as GET shows it, read fresh."""

    def read(q: CatalogueQueries) -> dict[str, Any]:
        return outcomes.service_outcome(FundingQueries(q.db), q, key, outcome_id)

    return writing.fresh(read)


WRITERS = ("editor", "officer")
FORBIDDEN = "wrong-role; wrong-organisation: an editor's key and another organisation's service"


@blp.route("/services/<service_ref:key>/outcomes", methods=["POST"])
@requires_key(blp, *WRITERS)
@blp.doc(requestBody=writing.json_body(OutcomeCreateSchema))
@blp.response(201, OutcomeDetailSchema, description="Added: the outcome, as GET shows it")
@writing.documented(blp, {
    403: FORBIDDEN, 404: "service-not-found",
    409: "duplicate-ref: the service has an outcome of this metric and period; write-locked",
    415: writing.UNSUPPORTED, 422: writing.INVALID,
})  # fmt: skip
def create_outcome(key: str, principal: Principal) -> Response:
    """Add an outcome to a service (metric, period, value, target, unit, report)."""
    ref, outcome_id = writes.add_outcome(
        writing.writer(principal), key, writing.body(OutcomeCreateSchema())
    )
    return writing.answer(
        _outcome(ref, outcome_id), 201,
        location=f"/api/v1/services/{quote(ref, safe='')}/outcomes/{outcome_id}",
    )  # fmt: skip


@blp.route("/services/<service_ref:key>/outcomes/<int:outcome_id>", methods=["PATCH"])
@requires_key(blp, *WRITERS)
@preconditions.documented(blp)
@blp.doc(requestBody=writing.json_body(OutcomePatchSchema))
@blp.response(200, OutcomeDetailSchema, description="Changed: the outcome, as GET shows it")
@writing.documented(blp, {
    403: FORBIDDEN, 404: "service-not-found, outcome-not-found", 409: "write-locked",
    415: writing.UNSUPPORTED, 422: writing.INVALID,
})  # fmt: skip
def update_outcome(key: str, outcome_id: int, principal: Principal) -> Response:
    """Change an outcome (only the fields sent; null clears one)."""
    render = _outcome(key, outcome_id)
    writes.update_outcome(
        writing.writer(principal), key, outcome_id, writing.body(OutcomePatchSchema()),
        writing.guard(render),
    )  # fmt: skip
    return writing.answer(render)


@blp.route("/services/<service_ref:key>/outcomes/<int:outcome_id>", methods=["DELETE"])
@requires_key(blp, *WRITERS)
@preconditions.documented(blp)
@blp.response(204, description="Removed")
@writing.documented(blp, {
    403: FORBIDDEN, 404: "service-not-found, outcome-not-found", 409: "write-locked",
})  # fmt: skip
def delete_outcome(key: str, outcome_id: int, principal: Principal) -> Response:
    """Remove an outcome (recorded as a change event naming the key)."""
    writes.remove_outcome(
        writing.writer(principal), key, outcome_id, writing.guard(_outcome(key, outcome_id))
    )
    return Response(status=204)
