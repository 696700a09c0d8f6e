"""Funding transparency: summaries by area, programme, year or organisation, funding
against need (per resident and per recorded offence) and the timeliness of awards."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.usecases.funding import need, summary, timeliness
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.funding.schemas import (
    FundingNeedArgsSchema,
    FundingNeedSchema,
    FundingSummaryArgsSchema,
    FundingSummarySchema,
    FundingTimelinessArgsSchema,
    FundingTimelinessSchema,
)
from directory.web.state import funding_answer, snapshot, state, today

blp = Blueprint(
    "funding", __name__, url_prefix="/api/v1", description="Funding summaries, funding against need"
)
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}


@blp.route("/funding/summary")
@blp.arguments(FundingSummaryArgsSchema, location="query")
@blp.response(200, FundingSummarySchema)
@blp.alt_response(404, description="area-not-found, area-ambiguous, programme-not-found", **PROBLEM)
def funding_summary(args: dict[str, Any]) -> Response:
    """Awards, money, award lengths (median, distribution, share of 36+ months) and money
    ending within 90 days, grouped `by` borough, BCU, ward, programme, financial year or
    recipient organisation. London-wide and BCU-wide awards are reported as such
    (`london_wide`, `bcu_wide`), never silently divided among boroughs; `apportion=population`
    adds an `apportioned_amount` and states the rule. With `area`, `headline` keeps the area's
    own awards apart from the shared, BCU-wide and London-wide awards reaching it (each in
    full, at its own scope): compare areas by `headline.own`. An award counts in the
    financial year it was decided for, whole; `spread=planned_dates` divides it between the
    financial years its planned dates cover, by days, in pence adding up to it."""
    return funding_answer("summary", args, lambda data: summary.funding_summary(
        data, snapshot(), state().settings, today(), by=args["by"],
        programme=args.get("programme"), financial_year_text=args.get("financial_year"),
        area=args.get("area"), live_on=args.get("live_on"), apportion=args["apportion"],
        spread=args["spread"], include_regrants=args["include_regrants"],
        include_other_programmes=args["include_other_programmes"],
    ))  # fmt: skip


@blp.route("/funding/need")
@blp.arguments(FundingNeedArgsSchema, location="query")
@blp.response(200, FundingNeedSchema)
@blp.alt_response(404, description="programme-not-found", **PROBLEM)
def funding_need(args: dict[str, Any]) -> Response:
    """Funding against need per borough or BCU: amount, population, recorded offences (Met
    Police, latest 12 loaded months), amount per 1,000 residents and per 1,000 offences, the
    London average and the rank of each area by each measure, with the period of every
    figure."""
    return funding_answer("need", args, lambda data: need.funding_need(
        data, snapshot(), state().settings, today(), level=args["level"],
        programme=args.get("programme"), financial_year_text=args.get("financial_year"),
        apportion=args["apportion"], spread=args["spread"],
        include_regrants=args["include_regrants"],
        include_other_programmes=args["include_other_programmes"],
    ))  # fmt: skip


@blp.route("/funding/timeliness")
@blp.arguments(FundingTimelinessArgsSchema, location="query")
@blp.response(200, FundingTimelinessSchema)
@blp.alt_response(404, description="area-not-found, area-ambiguous, programme-not-found", **PROBLEM)
def funding_timeliness(args: dict[str, Any]) -> Response:
    """Was the money decided on time? Per programme, borough, BCU or financial year: awards,
    dated and undated awards (no award date: never counted as on time), late awards (decided
    after the period they fund began) and their share, median and worst delay in days, the
    money of the late and of all dated awards, and the worst award; the rule (`rule`) and
    the period covered are in the answer. Awards counted and placed as /funding/summary."""
    return funding_answer("timeliness", args, lambda data: timeliness.funding_timeliness(
        data, snapshot(), by=args["by"], programme=args.get("programme"),
        financial_year_text=args.get("financial_year"), area=args.get("area"),
        include_regrants=args["include_regrants"],
        include_other_programmes=args["include_other_programmes"],
    ))  # fmt: skip
