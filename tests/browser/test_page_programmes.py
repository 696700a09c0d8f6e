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


def test_the_dashboard_sets_the_money_beside_recorded_crime(page: Any, live_server: Server) -> None:
    """Haringey: its share of Safer Streets Fund Round 5's money and of Surge's beside its share
    of recorded offences, and the North BCU's pair (Enfield, more offences, nothing)."""
    ssf = live_server.json("/programmes/home-office-safer-streets-fund-round-5/fairness")
    expected = [
        ("Home Office Safer Streets Fund Round 5", y["financial_year"], row)
        for y in ssf["years"]
        for row in y["boroughs"]
        if row["area"]["name"] == "Haringey"
    ]
    assert [e[1] for e in expected] == ["2023/24", "2024/25"]

    page.goto(live_server.url("/"))
    pick_borough(page, "Haringey")
    page.wait_for_selector("#panel-fairness[data-state=ready]")
    cells = page.eval_on_selector_all(
        "#panel-fairness table tbody tr",
        "rows => rows.map(r => Array.from(r.children).map("
        "c => [c.textContent.trim(), c.getAttribute('data-value')]))",
    )
    shown = {(r[0][0], r[1][0]): r for r in cells}
    for name, year, row in expected:
        line = shown[(name, year)]
        assert [float(c[1]) for c in line[2:6]] == [
            row["amount"],
            row["money_share"],
            row["offences_share"],
            row["gap"],
        ]
    assert shown[("Home Office Safer Streets Fund Round 5", "2023/24")][6][0] == "-0.5 (3)"
    pairs = page.inner_text("#panel-fairness .fairness-pairs")
    enfield = ssf["years"][0]["within_bcu"][0]["borough"]["offences"]
    assert (
        f"Home Office Safer Streets Fund Round 5 2023/24: Enfield ({enfield:,} offences) got £0, "
        "less than Haringey in North BCU"
    ) in pairs
    assert "latest 12 loaded months" in page.text_content("#panel-fairness details")
