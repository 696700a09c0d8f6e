"""Outcomes followed after funding ends (issue 18 §3), on the demo directory on SQLite and
PostgreSQL: when each outcome was measured, how many months after its service's funding
ended, and how many funded services /outcomes/summary finds followed up 6 and 12 months on.

Expected figures are worked out by hand from the demo's files:

- funded services: the 32 borough LCPF services built from the MOPAC decisions (the latest
  decision, MOPAC-DEC-020, is 2021/22: funding ended 2022-03-31), the 11 rows of
  borough_services.csv (an LCPF grant of the current financial year: not ended) and the 3
  services of services.toml, whose grants.csv awards are 2023/24 (ended 2024-03-31; Oxygen's
  is the Kingston SNB's regrant): 46 funded, 35 ended, every one of them over 12 months ago;
- outcomes.csv's follow-ups: Oxygen measured 2024-09-30 (6 months after 2024-03-31: from
  2024-04-01 to 2024-10-01), Rescue and Response measured 2025-03-31 (12 months after); the
  four interim figures have no measured_on, so their period's end (2024-03-31, during
  funding) is taken;
- Kingston upon Thames: its LCPF service and Oxygen (site and coverage in Kingston); London
  wide: Rescue and Response and the London Victim and Witness Service.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from directory.store.models import Service
from directory.store.repositories.funding import FundingQueries
from directory.usecases.facts import FundingData
from directory.usecases.funding.followup import funding_end_of, funding_ends


@pytest.fixture(scope="module")
def demo(shared_demo_app: Flask) -> Flask:
    """The demo directory on each backend (the session's, shared: these tests only read)."""
    return shared_demo_app


def get(app: Flask, url: str) -> Any:
    response = app.test_client().get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def after(eligible: int, followed_up: int) -> dict[str, Any]:
    return {
        "eligible": eligible,
        "followed_up": followed_up,
        "not_followed_up": eligible - followed_up,
        "share": round(followed_up / eligible, 4) if eligible else None,
    }


def test_an_outcome_says_when_it_was_measured_and_how_long_after_funding(demo):
    body = get(demo, "/api/v1/services/rescue-and-response/outcomes")
    assert body["funding_ended"] == "2024-03-31"
    found = {o["metric"]: (o["measured"], o["after_funding_months"]) for o in body["outcomes"]}
    assert found == {
        "young people supported": ({"on": "2024-03-31", "basis": "period_end"}, None),
        "referrals received": ({"on": "2024-03-31", "basis": "period_end"}, None),
        "young people supported not re-referred for exploitation": (
            {"on": "2025-03-31", "basis": "measured_on"}, 12,
        ),
    }  # fmt: skip
    assert "measured_on" in body["rule"] and "latest end date" in body["rule"]
    # the service's own page answer (what the public page draws) says the same
    detail = get(demo, "/api/v1/services/oxygen-kingston-knife-crime")
    assert detail["funding_ended"] == "2024-03-31" and "regrants" in detail["outcomes_rule"]
    follow = [o for o in detail["outcomes"] if o["after_funding_months"] is not None]
    assert [(o["metric"], o["measured"]["on"], o["after_funding_months"]) for o in follow] == [
        ("programme completers not re-offending", "2024-09-30", 6)
    ]
    one = get(demo, f"/api/v1/services/oxygen-kingston-knife-crime/outcomes/{follow[0]['id']}")
    assert one["after_funding_months"] == 6 and one["measured"]["basis"] == "measured_on"


def test_a_services_own_read_of_its_funding_end_is_the_facts_for_every_service(demo):
    """A service's answers read its funding's end from its own grants (so that every worker
    sends the same body, whatever its facts): for every service in the demo, the same day
    as the data version's facts give (Oxygen's through the Kingston SNB's regrant)."""
    with demo.app_context(), demo.extensions["directory"].db.snapshot() as connection:
        q = FundingQueries(connection)
        ends = funding_ends(FundingData.read(q))
        services = connection.execute(select(Service.id)).scalars().all()
        own = {sid: funding_end_of(q, sid) for sid in services}
    assert {sid: day for sid, day in own.items() if day is not None} == ends
    assert len(ends) == 46  # the funded services of the module's docstring


def test_the_summary_counts_funded_services_followed_up_after_funding_ended(demo):
    body = get(demo, "/api/v1/outcomes/summary?by=borough")
    assert body["totals"]["follow_up"] == {
        "funded_services": 46,
        "funding_ended": 35,
        "after_6_months": after(35, 2),  # Oxygen (6) and Rescue and Response (12)
        "after_12_months": after(35, 1),  # Rescue and Response
    }
    assert body["period"] == {
        "measured": {"first": "2024-03-31", "last": "2025-03-31"},
        "funding_ends": {"first": "2022-03-31", "last": body["period"]["funding_ends"]["last"]},
    }
    assert body["period"]["funding_ends"]["last"] > body["today"]  # the live LCPF grants
    assert "not_followed_up" in body["follow_up_rule"] and "eligible" in body["follow_up_rule"]
    kingston = next(b for b in body["boroughs"] if b["area"]["code"] == "E09000021")
    assert kingston["follow_up"] == {
        "funded_services": 2,
        "funding_ended": 2,
        "after_6_months": after(2, 1),
        "after_12_months": after(2, 0),
    }
    assert kingston["services"] == 1 and kingston["outcomes"] == 3  # Oxygen's
    assert body["london_wide"]["follow_up"] == {
        "funded_services": 2,
        "funding_ended": 2,
        "after_6_months": after(2, 1),
        "after_12_months": after(2, 1),
    }
    # every borough has its LCPF service (ended 2022): listed even with no outcome
    assert len(body["boroughs"]) == 32
    barnet = next(b for b in body["boroughs"] if b["area"]["code"] == "E09000003")
    assert barnet["outcomes"] == 0 and barnet["follow_up"]["after_12_months"] == after(1, 0)


def test_the_summary_by_theme_and_in_an_area(demo):
    themes = get(demo, "/api/v1/outcomes/summary?by=theme")
    by_theme = {t["theme"]["id"]: t["follow_up"] for t in themes["themes"] if t["theme"]}
    # Rescue and Response is the only gangs-exploitation service whose funding ended
    assert by_theme["gangs-exploitation"]["after_12_months"] == after(1, 1)
    assert themes["totals"]["follow_up"]["after_6_months"] == after(35, 2)
    # an area counts the services reaching it: Kingston's two and the two London-wide
    area = get(demo, "/api/v1/outcomes/summary?by=borough&area=Kingston")
    assert area["totals"]["follow_up"]["after_6_months"] == after(4, 2)
    assert area["totals"]["follow_up"]["after_12_months"] == after(4, 1)
