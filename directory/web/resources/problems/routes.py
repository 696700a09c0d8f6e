"""The page each problem's ``type`` leads to: ``/problems/{code}``, what the code means
and what to do (RFC 9457 §3.1.1), as HTML for a person, as JSON when asked."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template

from directory.usecases import problems
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.problems.schemas import ProblemTypeArgsSchema, ProblemTypeSchema

blp = Blueprint("problems", __name__, description="What each problem code means")


@blp.route("/problems/<string:code>")
@blp.arguments(ProblemTypeArgsSchema, location="query")
@blp.response(200, ProblemTypeSchema)
@blp.alt_response(
    200, schema={"type": "string"}, content_type="text/html", success=True,
    description="By default, and with f=html: the same as a page",
)  # fmt: skip
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="not-found: no problem has this code",
)  # fmt: skip
def problem_type(args: dict[str, Any], code: str) -> Response:
    """A problem code's status, title, what it means and what to do (every problem's
    `type` is its code's page): HTML unless JSON is asked for (`f=json`, or an Accept
    header preferring application/json)."""
    entry = problems.problem_type(code, http.PROBLEM_STATUSES)
    if args.get("f") == "json" or (
        args.get("f") is None
        and http.best_of(["text/html", "application/json"]) == "application/json"
    ):
        return http.json_response(entry)
    return Response(render_template("problem.html", problem=entry), mimetype="text/html")
