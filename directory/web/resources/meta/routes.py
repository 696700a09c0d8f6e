"""Liveness, readiness and the API root."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.usecases import status
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.meta.schemas import HealthSchema, ReadySchema, RootSchema
from directory.web.state import geography_repo, state

blp = Blueprint("meta", __name__, description="Service health and entry points")
# The probes answer whatever query they are sent (a monitor's cache-buster must not take the
# service out of rotation); they take no input, so nothing sent can be silently ignored.


@blp.route("/health", ignore_query=True)
@blp.response(200, HealthSchema)
def health() -> Response:
    """The process is alive (touches nothing else)."""
    return http.json_response({"status": "ok"})


@blp.route("/ready", ignore_query=True)
@blp.response(200, ReadySchema)
@blp.alt_response(
    503,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="Database unreachable or no data",
)
def ready() -> Response:
    """The database is reachable and the geography is loaded, naming the data release."""
    body: dict[str, Any] = status.readiness(geography_repo(), state().geography)
    return http.json_response(body)


@blp.route("/api/v1", strict_slashes=False)
@blp.response(200, RootSchema)
def root() -> Response:
    """Entry point: names the API and where its OpenAPI description lives (at /api/v1 and
    /api/v1/)."""
    return http.json_response(
        {
            "name": "London Funded Services Directory",
            "version": "v1",
            "openapi_url": "/api/v1/openapi.json",
            "docs_url": "/api/v1/docs",
        }
    )
