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


SSF = "home-office-safer-streets-fund-round-5"


def programme_rows(page: Any) -> list[list[tuple[str, str | None]]]:
    return page.eval_on_selector_all(
        "#programme-fairness table tbody tr",
        "rows => rows.map(r => Array.from(r.children).map("
        "c => [c.textContent.trim(), c.getAttribute('data-value')]))",
    )


def assert_programme_year_shown(page: Any, year: dict[str, Any]) -> None:
    """The section's table, correlation and pairs are the API's answer for that year."""
    assert page.get_attribute("#programme-fairness", "data-year") == year["financial_year"]
    rows = programme_rows(page)
    assert [r[0][0] for r in rows] == [b["area"]["name"] for b in year["boroughs"]]
    for shown, b in zip(rows, year["boroughs"], strict=True):
        assert shown[1][0] == b["bcu"]["name"]
        assert [float(c[1]) for c in shown[2:7]] == [
            b["amount"],
            b["money_share"],
            b["offences_share"],
            b["population_share"],
            b["gap"],
        ]
        assert shown[2][0] == money(b["amount"])
        assert int(shown[7][1]) == b["offences"]
    rho = year["correlation"]["spearman"]
    spearman = page.get_attribute("#programme-fairness .spearman", "data-spearman")
    assert (float(spearman) if spearman else None) == rho
    pairs = page.inner_text("#programme-fairness .fairness-pairs")
    for pair in year["within_bcu"]:
        assert (
            f"{pair['borough']['area']['name']} ({pair['borough']['offences']:,} offences) got "
            f"{money(pair['borough']['amount'])}, less than {pair['neighbour']['area']['name']} "
            f"in {pair['bcu']['name']} BCU"
        ) in pairs
    if not year["within_bcu"]:
        assert "In no BCU did a borough with more recorded offences get less" in pairs
    # the rule and the offence period the figures were made on
    page.click("#programme-fairness details summary")
    how = page.inner_text("#programme-fairness details")
    assert year["offences"]["note"] in how
    assert "Spearman's rank correlation" in how


def test_a_programme_section_shows_its_money_against_crime_year_by_year(
    page: Any, live_server: Server
) -> None:
    """Issue 18 §2: the programme's own section, opened from a link, then another year."""
    answer = live_server.json(f"/programmes/{SSF}/fairness")
    years = {y["financial_year"]: y for y in answer["years"]}
    assert list(years) == ["2023/24", "2024/25"]

    page.goto(live_server.url(f"/#programme?id={SSF}&financial_year=2023%2F24"))
    page.wait_for_selector("#programme[data-state=ready]")
    assert page.inner_text("#programme-name") == "Home Office Safer Streets Fund Round 5"
    options = page.eval_on_selector_all("#programme-year option", "os => os.map(o => o.value)")
    assert options == list(years)
    assert page.input_value("#programme-year") == "2023/24"
    assert_programme_year_shown(page, years["2023/24"])
    assert page.get_attribute("#programme-fairness .spearman", "data-spearman") == "-0.5"

    page.select_option("#programme-year", "2024/25")
    page.wait_for_selector("#programme-fairness[data-year='2024/25']")
    assert_programme_year_shown(page, years["2024/25"])
    assert page.evaluate("location.hash") == f"#programme?id={SSF}&financial_year=2024%2F25"


def test_a_link_to_a_year_with_no_figures_says_so_and_shows_the_year_it_shows(
    page: Any, live_server: Server
) -> None:
    """A shared link's year that has no figures: said, and the address made the year shown
    (it showed another year without a word, the address keeping the year asked: the page
    probe of 5 December)."""
    answer = live_server.json(f"/programmes/{SSF}/fairness")
    shown = answer["years"][0]["financial_year"]
    page.goto(live_server.url(f"/#programme?id={SSF}&financial_year=1999%2F00"))
    page.wait_for_selector("#programme[data-state=ready]")
    assert page.input_value("#programme-year") == shown
    status = page.inner_text("#programme-status")
    assert f"no figures for 1999/00; {shown} shown." in status
    assert page.evaluate("location.hash") == (
        f"#programme?id={SSF}&financial_year={shown.replace('/', '%2F')}"
    )


def test_a_programme_is_chosen_from_the_list_and_its_latest_year_shown(
    page: Any, live_server: Server
) -> None:
    programmes = live_server.json("/programmes", per_page=100)["contents"]
    lcpf = next(p for p in programmes if p["id"] == "lcpf-direct")
    answer = live_server.json("/programmes/lcpf-direct/fairness")

    page.goto(live_server.url("/"))
    page.wait_for_selector("#programme-select option[value='lcpf-direct']", state="attached")
    names = page.eval_on_selector_all(
        "#programme-select option", "os => os.slice(1).map(o => o.textContent)"
    )
    assert names == [p["name"] for p in programmes]
    page.get_by_label("Programme", exact=True).select_option(label=lcpf["name"])
    page.get_by_role("button", name="Show programme").click()
    page.wait_for_selector("#programme[data-state=ready]")
    assert page.evaluate("location.hash") == "#programme?id=lcpf-direct&financial_year="
    assert_programme_year_shown(page, answer["years"][0])
    facts = page.inner_text("#programme-facts")
    assert f"{lcpf['awards']} awards, {money(lcpf['amount'])}" in facts
    # how much of the formula is public, as the programme's formula says (lcpf-direct's
    # is partly known: "formula published" overstated it until 6 December)
    assert lcpf["formula_status"] == "partly known"
    assert "formula (formula partly published)" in facts


def test_a_programme_with_nothing_to_compare_says_why(page: Any, live_server: Server) -> None:
    answer = live_server.json("/programmes/vru/fairness")
    assert answer["years"] == []
    page.goto(live_server.url("/#programme?id=vru"))
    page.wait_for_selector("#programme[data-state=ready]")
    assert page.is_disabled("#programme-year")
    text = page.inner_text("#programme-fairness")
    assert "There is no financial year to compare" in text
    assert answer["notes"][0] in text
    assert not page.query_selector("#programme-fairness table")


def test_an_unknown_programme_is_a_problem_in_plain_words(page: Any, live_server: Server) -> None:
    status, problem = live_server.api("/programmes/no-such-programme/fairness")
    assert status == 404
    page.goto(live_server.url("/#programme?id=no-such-programme"))
    page.wait_for_selector("#programme[data-state=problem]")
    assert page.is_visible("#programme-problem")
    assert problem["title"] in page.inner_text("#programme-problem")
    assert page.is_hidden("#programme-results")


def test_the_dashboard_links_a_programme_year_to_its_section(
    page: Any, live_server: Server
) -> None:
    answer = live_server.json(f"/programmes/{SSF}/fairness")
    page.goto(live_server.url("/"))
    pick_borough(page, "Haringey")
    page.wait_for_selector("#panel-fairness[data-state=ready]")
    link = page.locator(
        "#panel-fairness tbody tr", has=page.locator("td", has_text="2024/25")
    ).get_by_role("link", name="Home Office Safer Streets Fund Round 5")
    link.click()
    page.wait_for_selector("#programme[data-state=ready]")
    assert page.evaluate("location.search") == "?area=E09000014"  # the patch stays
    assert page.evaluate("document.activeElement.id") == "programme"  # the reader is taken there
    assert_programme_year_shown(page, answer["years"][1])
