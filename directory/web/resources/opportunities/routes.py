"""Funding opportunities (bidding rounds): lists, one, Atom and iCalendar feeds; officers'
writes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from directory.store.repositories.opportunities import OpportunityQueries
from directory.usecases import opportunities
from directory.usecases.geography import coverage_geometry
from directory.usecases.keys import Principal
from directory.web import http, preconditions, representations, writing
from directory.web import state as web
from directory.web.api import Blueprint, ProblemSchema
from directory.web.auth import requires_key
from directory.web.resources.common import PageArgsSchema
from directory.web.resources.opportunities.schemas import (
    OpportunityChangeSchema,
    OpportunityCreateSchema,
    OpportunityFeatureCollectionSchema,
    OpportunityFeedArgsSchema,
    OpportunityListArgsSchema,
    OpportunityPageSchema,
    OpportunitySchema,
)
from directory.web.resources.services.schemas import ChangePageSchema
from directory.web.state import connection, etag_from_body, geography_repo, snapshot, state

blp = Blueprint(
    "opportunities", __name__, url_prefix="/api/v1",
    description="Funding opportunities (bidding rounds)",
)  # fmt: skip
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}
#: the tolerance (metres) the areas of the GeoJSON are simplified by
SIMPLIFY_M = 20.0


def _queries() -> OpportunityQueries:
    return OpportunityQueries(connection())


def _place_problems(view: Any) -> Any:
    """The problems of a place (an area or a postcode) and themes, as the list and the
    feeds document them."""
    view = blp.alt_response(
        422, description="invalid-input (an unknown theme; area and postcode both); "
        "invalid-postcode", **PROBLEM,
    )(view)  # fmt: skip
    return blp.alt_response(
        404, description="area-not-found, area-ambiguous, postcode-not-found, postcode-terminated, "
        "outside-coverage", **PROBLEM,
    )(view)  # fmt: skip


@blp.route("/opportunities")
@blp.arguments(OpportunityListArgsSchema, location="query")
@blp.response(200, OpportunityPageSchema)
@blp.alt_response(
    200, schema=OpportunityFeatureCollectionSchema, content_type=http.GEOJSON_MIMETYPE,
    success=True, description="With format=geojson or Accept: application/geo+json",
)  # fmt: skip
@blp.alt_response(
    200, schema={"type": "string"}, content_type=http.CSV_MIMETYPE, success=True,
    description="With format=csv or Accept: text/csv: one row per opportunity",
)  # fmt: skip
@_place_problems
def list_opportunities(args: dict[str, Any]) -> Response:
    """Funding opportunities for a place (area or postcode: those for it, the areas above
    it and inside it), by theme, open on a day, suiting small organisations, closing
    within N days or by status; soonest deadline first. Status comes from the dates at the
    time of asking: upcoming, open, closing_soon, closed. JSON, GeoJSON or CSV."""
    kind = web.representation(args.get("format"), ("json", "geojson", "csv"))
    page, per_page = args["page"], args["per_page"]
    etag_from_body()  # statuses change at any time of day
    body = opportunities.list_opportunities(
        _queries(), snapshot(), geography_repo(), state().settings, web.now(),
        area=args.get("area"), postcode=args.get("postcode"), themes=args.get("theme", []),
        open_on=args.get("open_on"), small_org_friendly=args.get("small_org_friendly"),
        closes_within=args.get("closes_within"), statuses=args.get("status", []),
        page=page, per_page=per_page,
    )  # fmt: skip
    if kind == "json":
        return web.paged_response(body, page, per_page)
    if kind == "geojson":
        snap = snapshot()
        links = [
            {"href": url, "rel": rel, "type": http.GEOJSON_MIMETYPE, "title": title}
            for rel, url, title in web.page_links(page, per_page, body["total_pages"], "geojson")
        ]
        geometries = [
            coverage_geometry(snap, [a["code"] for a in o["areas"]], SIMPLIFY_M)
            for o in body["contents"]
        ]
        collection = representations.opportunities_feature_collection(
            body["contents"], geometries, number_matched=body["total_items"], links=links
        )
        response = http.json_response(collection, mimetype=http.GEOJSON_MIMETYPE)
        response.headers["Link"] = web.link_header(page, per_page, body["total_pages"], "geojson")
        return response
    text = representations.opportunities_csv(
        body["contents"], url_prefix=request.host_url.rstrip("/") + opportunities.PATH
    )
    response = Response(text.encode("utf-8"), mimetype=http.CSV_MIMETYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="opportunities.csv"'
    response.headers["Link"] = web.link_header(page, per_page, body["total_pages"], "csv")
    return response


def _feed_query() -> dict[str, Any]:
    return {k: request.args.getlist(k) for k in sorted(request.args)}


@blp.route("/opportunities.atom")
@blp.arguments(OpportunityFeedArgsSchema, location="query")
@blp.response(
    200, content_type=http.ATOM_MIMETYPE,
    description="An Atom 1.0 feed of the opportunities not yet closed",
)  # fmt: skip
@_place_problems
def atom_opportunities(args: dict[str, Any]) -> Response:
    """The opportunities not yet closed (upcoming, open, closing soon) for an area and its
    themes, as an Atom feed to subscribe to (`?area=Kingston` or `?postcode=…`): most
    recently changed first, each entry's id permanent."""
    etag_from_body()
    items, place = opportunities.feed_items(
        _queries(), snapshot(), geography_repo(), state().settings, web.now(),
        area=args.get("area"), postcode=args.get("postcode"), themes=args.get("theme", []),
        small_org_friendly=args.get("small_org_friendly"), limit=opportunities.FEED_LIMIT,
    )  # fmt: skip
    query = urlencode(_feed_query(), doseq=True)
    public_url = state().settings.public_url
    title = opportunities.feed_title(
        "Funding opportunities", place, args.get("theme", []), args.get("small_org_friendly")
    )
    xml = opportunities.atom(
        items, feed_url=request.base_url + (f"?{query}" if query else ""),
        base_url=public_url or request.host_url.rstrip("/"),
        title=title, feed_name=query, public_url=public_url,
        data_loaded_at=snapshot().version.loaded_at,
    )  # fmt: skip
    return Response(xml, mimetype=http.ATOM_MIMETYPE)


@blp.route("/opportunities.ics")
@blp.arguments(OpportunityFeedArgsSchema, location="query")
@blp.response(
    200, content_type=http.CALENDAR_MIMETYPE,
    description="An iCalendar (RFC 5545) feed: an event at each deadline and each opening",
)  # fmt: skip
@_place_problems
def calendar_opportunities(args: dict[str, Any]) -> Response:
    """The deadlines (and opening dates) of the opportunities for an area and its themes
    as an iCalendar feed a calendar app subscribes to (`webcal://…/opportunities.ics?
    area=Kingston`): times in Europe/London, each event's UID stable from one fetch to the
    next; deadlines of the past year stay in it."""
    etag_from_body()
    app_state = state()
    items, updated, place = opportunities.calendar_items(
        _queries(), snapshot(), geography_repo(), app_state.settings, web.now(),
        area=args.get("area"), themes=args.get("theme", []), postcode=args.get("postcode"),
        small_org_friendly=args.get("small_org_friendly"),
    )  # fmt: skip
    title = opportunities.feed_title(
        "Funding deadlines", place, args.get("theme", []), args.get("small_org_friendly")
    )
    body = opportunities.calendar(
        items, updated, title=title,
        base_url=app_state.settings.public_url or request.host_url.rstrip("/"),
    )  # fmt: skip
    response = Response(body, mimetype=http.CALENDAR_MIMETYPE)
    response.headers["Content-Disposition"] = 'inline; filename="opportunities.ics"'
    return response


@blp.route("/opportunities/<ref:key>")
@blp.response(200, OpportunitySchema)
@blp.alt_response(404, description="opportunity-not-found", **PROBLEM)
def get_opportunity(key: str) -> Response:
    """One opportunity (by id or ref), withdrawn ones too (status withdrawn). Its ETag is
    strong (a hash of the answer): send it in If-Match to change or withdraw it."""
    etag_from_body()
    return http.json_response(
        opportunities.detail(_queries(), snapshot(), state().settings, web.now(), key)
    )


@blp.route("/opportunities/<ref:key>/history")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ChangePageSchema)
@blp.alt_response(404, description="opportunity-not-found", **PROBLEM)
def opportunity_history(args: dict[str, Any], key: str) -> Response:
    """Every recorded change to the opportunity, newest first, with old → new values and
    who made each (the key's name)."""
    body = opportunities.history(
        _queries(), web.catalogue(), snapshot(), key, args["page"], args["per_page"]
    )
    return web.paged_response(body, args["page"], args["per_page"])


@blp.route("/opportunities", methods=["POST"])
@requires_key(blp, "officer")
@blp.arguments(OpportunityCreateSchema)
@blp.response(
    201, OpportunitySchema, description="Added: the opportunity as GET shows it (its ETag)"
)
@blp.alt_response(409, description="opportunity-exists: its ref is taken", **PROBLEM)
@blp.alt_response(
    422, description="invalid-input: a member is missing or invalid (`errors` by member): "
    "unknown themes, areas or programme, a deadline before the opening …", **PROBLEM,
)  # fmt: skip
def create_opportunity(body: dict[str, Any], principal: Principal) -> Response:
    """Add a funding opportunity (an officer's or admin's key). Recorded as a change event
    naming the key (in /changes and the feeds)."""
    app_state = state()
    snapshot()  # (the write checks the geography the database holds, under the lock)
    answer = opportunities.create(
        app_state.db, app_state.geography, app_state.settings, principal, body, web.now()
    )
    app_state.geography.expire()
    # (with its ETag, as GET gives it now: what a change sends in If-Match)
    return writing.answer(lambda: http.dumps(answer), 201, location=answer["url"])


def _if_match(body: dict[str, Any]) -> None:
    """The If-Match precondition against the opportunity as GET shows it."""
    preconditions.require_match(lambda: http.dumps(body))


@blp.route("/opportunities/<ref:key>", methods=["PATCH"])
@requires_key(blp, "officer")
@preconditions.documented(blp)
@blp.arguments(OpportunityChangeSchema)
@blp.response(
    200, OpportunitySchema, description="Changed: the opportunity as GET shows it (its new ETag)"
)
@blp.alt_response(404, description="opportunity-not-found", **PROBLEM)
@blp.alt_response(
    422, description="invalid-input: a member is invalid (`errors` by member)", **PROBLEM
)
def update_opportunity(body: dict[str, Any], key: str, principal: Principal) -> Response:
    """Change some of an opportunity's members (an officer's or admin's key), with
    `If-Match` its current ETag. A withdrawn one changed is listed again. Recorded as a
    change event naming the key, with old → new values."""
    app_state = state()
    snapshot()  # (as create_opportunity)
    answer = opportunities.update(
        app_state.db, app_state.geography, app_state.settings, principal, key, body, web.now(),
        _if_match,
    )  # fmt: skip
    app_state.geography.expire()
    return writing.answer(lambda: http.dumps(answer))  # (its new ETag)


@blp.route("/opportunities/<ref:key>", methods=["DELETE"])
@requires_key(blp, "officer")
@preconditions.documented(blp)
@blp.response(204, description="Withdrawn (or already withdrawn): it leaves lists and feeds")
@blp.alt_response(404, description="opportunity-not-found", **PROBLEM)
def withdraw_opportunity(key: str, principal: Principal) -> Response:
    """Withdraw an opportunity (an officer's or admin's key), with `If-Match` its current
    ETag: it leaves the lists, the feeds and the patch; GET still shows it (status
    withdrawn), and a PATCH lists it again. Recorded as a change event naming the key."""
    app_state = state()
    opportunities.withdraw(
        app_state.db, snapshot(), app_state.settings, principal, key, web.now(), _if_match
    )
    app_state.geography.expire()
    return Response(status=204)
