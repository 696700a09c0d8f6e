"""The change feed of a patch, as JSON and as an Atom feed to subscribe to."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import Response, request

from directory.usecases import changes
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema, Schema
from directory.web.resources.common import (
    AreaRefSchema,
    PageArgsSchema,
    PageSchema,
    QueryMoment,
)
from directory.web.resources.services.schemas import ChangeEventSchema
from directory.web.state import catalogue, paged_response, snapshot, state, today

blp = Blueprint("changes", __name__, url_prefix="/api/v1", description="Change feed")
ENTITIES = ["service", "grant", "organisation", "outcome", "contact", "opportunity"]


class ChangeFilterArgsSchema(Schema):
    """What both feeds select by; the Atom feed takes no page (it is the newest
    ``changes.FEED_LIMIT``), so ``page`` there is an unknown parameter, not ignored."""

    since = QueryMoment(
        default_timezone=dt.UTC,
        metadata={"description": "Only changes at or after this time (ISO 8601; UTC if no offset)"},
    )
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": "Area code or name: changes touching it, the areas above it "
            "(London-wide, its BCU) or the areas inside it"
        },
    )
    theme = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40), metadata={"description": "Theme id"}
    )
    entity = ma.fields.String(validate=ma.validate.OneOf(ENTITIES))
    import_run = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Only the changes this import run recorded (its id, as "
                  "/api/v1/imports/{id}); no grant's start or end is a run's"},
    )  # fmt: skip
    ending_within = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=730),
        metadata={
            "description": "Days before a grant's end that it is reported as ending (default DIRECTORY_ENDING_SOON_DAYS)"
        },
    )


class ChangeArgsSchema(ChangeFilterArgsSchema, PageArgsSchema):
    pass


class FeedEntrySchema(ChangeEventSchema):
    id = ma.fields.String(
        metadata={
            "description": "event-<id> for a recorded change; grant-<id>-started, "
            "grant-<id>-ending or grant-<id>-ended for one derived from a grant's dates"
        }
    )
    action = ma.fields.String(
        metadata={
            "description": "created | updated | withdrawn | restored | deleted, or grant_started | "
            "grant_ending | grant_ended"
        }
    )
    url = ma.fields.String(allow_none=True, metadata={"description": "The entity's URL"})


class ChangeFeedSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(FeedEntrySchema))
    area = ma.fields.Nested(
        AreaRefSchema, allow_none=True, metadata={"description": "The area asked for, if any"}
    )


def _body(args: dict[str, Any], page: int, per_page: int) -> dict[str, Any]:
    settings = state().settings
    return changes.changes(
        catalogue(), snapshot(), today(), since=args.get("since"), area=args.get("area"),
        theme=args.get("theme"), entity=args.get("entity"), import_run=args.get("import_run"),
        ending_within=args.get("ending_within") or settings.ending_soon_days,
        page=page, per_page=per_page,
    )  # fmt: skip


@blp.route("/changes")
@blp.arguments(ChangeArgsSchema, location="query")
@blp.response(200, ChangeFeedSchema)
@blp.alt_response(
    404,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="area-not-found, area-ambiguous",
)
def list_changes(args: dict[str, Any]) -> Response:
    """What changed in a patch, newest first: services added, changed, withdrawn or restored
    (with old → new values), grants started, ending within N days or ended, and the same for
    organisations, outcomes and contacts."""
    body = _body(args, args["page"], args["per_page"])
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/changes.atom")
@blp.arguments(ChangeFilterArgsSchema, location="query")
@blp.response(200, content_type=http.ATOM_MIMETYPE, description="An Atom 1.0 feed")
@blp.alt_response(
    404,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="area-not-found, area-ambiguous",
)
def atom_changes(args: dict[str, Any]) -> Response:
    """The same changes as an Atom feed, for a SPOC to subscribe to (`?area=Kingston`)."""
    body = _body(args, 1, changes.FEED_LIMIT)
    query = dict(request.args.items())
    feed_url = request.base_url + (f"?{urlencode(query)}" if query else "")
    area = body["area"]["name"] if body["area"] else "London"
    public_url = state().settings.public_url
    xml = changes.atom(
        body, feed_url=feed_url, base_url=public_url or request.host_url.rstrip("/"),
        title=f"Funded services changes: {area}", public_url=public_url,
        data_loaded_at=snapshot().version.loaded_at, snap=snapshot(),
        feed_name="feed?" + urlencode(sorted(query.items())),
    )  # fmt: skip
    return Response(xml, mimetype=http.ATOM_MIMETYPE)
