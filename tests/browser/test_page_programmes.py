"""The borough dashboard counts community-safety programmes only, as the API does by default,
and says so in one line with the other grants' money, from the API's answer (issue 13)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Server
from tests.browser.test_page import money, pick_borough

LAMBETH = "E09000022"


def test_the_dashboard_says_it_counts_community_safety_programmes_only(
    page: Any, live_server: Server
) -> None:
    default = live_server.json("/funding/summary", by="programme", area=LAMBETH)
    everything = live_server.json(
        "/funding/summary", by="programme", area=LAMBETH, include_other_programmes="true"
    )
    other = default["programmes"]["other_programmes"]
    assert default["programmes"]["counted"] == "community_safety"
    names = {g["programme"]["name"] for g in everything["groups"] if g["programme"]}
    assert "Arts and Humanities" in names  # the 360Giving grants reach Lambeth …
    assert other["awards"] > 0

    page.goto(live_server.url("/"))
    pick_borough(page, "Lambeth")
    line = page.inner_text("#dashboard-scope")
    assert line == (
        f"Community-safety programmes only; other grants reaching Lambeth: "
        f"{money(other['amount'])} in {other['awards']:,} awards, not counted here."
    )
    assert float(page.get_attribute("#dashboard-scope", "data-other-amount")) == other["amount"]
    panel = page.inner_text("#panel-programme")
    assert "Arts and Humanities" not in panel  # … and are not on the dashboard
    own = default["headline"]["own"]["amount"]
    assert money(own) in page.inner_text("#panel-programme .total")
