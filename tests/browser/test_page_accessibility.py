"""The public page meets WCAG 2.2 AA as far as a machine can tell: axe-core (pinned in
tools/axe; `npm ci --prefix tools/axe`, which `make test` runs) checks the page in each state
a reader reaches (first load, a postcode's patch with its details open, a borough's
dashboard, partners, a programme, a caseload answered, the problems) and the OGC and problem
pages, and must find nothing. Then what axe cannot see, by keyboard: the postcode box is
reached and sent with Enter, the results are announced and tabbed through with a visible
focus ring, a problem is announced, and Tab goes on past the page (no trap).

axe is put into the page by ``page.evaluate`` of its source (a function whose body is
axe.min.js, run through the DevTools protocol, which a page's Content-Security-Policy does
not govern): the app's CSP is served and enforced unchanged, no context bypasses it, and the
conftest still fails a test on any CSP violation, axe's own included."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_page import POSTCODE, pick_borough, search_postcode
from tests.browser.test_page_editing import OWN, load, use_key
from tests.browser.test_page_partners import find_partners
from tests.conftest import REPO_ROOT

AXE = REPO_ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.0, 2.1 and 2.2, levels A and AA (axe's tags; 2.2 added AA rules only)
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
UNKNOWN = "E1 0ZZ"  # well-formed, in a London district, no such postcode
SSF = "home-office-safer-streets-fund-round-5"


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(
            f"axe-core is not installed at {AXE}: run `npm ci --prefix tools/axe` (make test does)"
        )
    return AXE.read_text(encoding="utf-8")


def open_everything(page: Any) -> None:
    """Open every "How these figures are made" and "Tell us" (axe skips what is hidden)."""
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")


def violations(page: Any, source: str) -> list[str]:
    """axe's WCAG A/AA violations on the page as it is now, one line per element: rule,
    impact, target, help and axe's summary of what to fix."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate("() => {\n" + source + "\n}")
    results = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                      resultTypes: ["violations"]})""",
        TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}) at {' '.join(map(str, node['target']))}: {v['help']}\n"
        + "    "
        + node["failureSummary"].replace("\n", "\n    ")
        for v in results["violations"]
        for node in v["nodes"]
    ]


def assert_accessible(page: Any, source: str, state: str) -> None:
    found = violations(page, source)
    assert not found, f"axe found {len(found)} WCAG 2.2 AA violation(s) {state}:\n" + "\n".join(
        found
    )


def test_axe_reports_what_it_finds(page: Any, live_server: Server, axe_source: str) -> None:
    """The check itself: a postcode box with its label taken away is a violation, told."""
    page.goto(live_server.url("/"))
    page.evaluate("() => document.querySelector('label[for=postcode]').remove()")
    found = violations(page, axe_source)
    assert any(line.startswith("label (critical) at #postcode: ") for line in found), found


def test_the_page_as_it_opens(page: Any, live_server: Server, axe_source: str) -> None:
    page.goto(live_server.url("/"))
    page.wait_for_selector("#borough option[value^=E09]", state="attached")
    page.wait_for_selector("#partner-theme option[value=community-safety]", state="attached")
    assert_accessible(page, axe_source, "on first load")


def test_a_postcodes_patch_with_a_service_opened(
    page: Any, live_server: Server, axe_source: str
) -> None:
    search_postcode(page, live_server, POSTCODE)
    assert page.locator("#service-list .service").count() > 0
    assert page.locator("#opportunity-list li").count() > 0
    assert page.locator("#contact-list li").count() > 0
    assert page.locator("#awards-body table").count() > 0
    assert_accessible(page, axe_source, f"with {POSTCODE}'s patch and dashboard")
    # a service's funding history and outcomes, loaded when opened; a map marker's popup
    card = page.locator("#service-list .service").first
    card.locator("button.expand").click()
    card.locator(".detail[data-loaded=yes]").wait_for()
    page.locator("#map .pin-site").first.click()
    page.locator(".leaflet-popup").wait_for()
    # Leaflet fades a popup in (an opacity transition): axe reading its colours half-way
    # finds the text paler than it ends (#ddddda on #eaedee, once in a run)
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
    )
    open_everything(page)
    assert_accessible(page, axe_source, "with a service's details, a popup and the notes open")
    # feedback sent empty: refused, its fields marked
    form = card.locator("details.tell-us form")
    form.get_by_role("button").click()
    form.locator("[aria-invalid=true]").first.wait_for()
    assert_accessible(page, axe_source, "with a feedback form refused")


@pytest.mark.parametrize("where", ["Lambeth", "KT1 1EU"])
def test_a_phone_width_screen(phone: Any, live_server: Server, axe_source: str, where: str) -> None:
    """375 px: the wide tables scroll sideways, so a keyboard must be able to scroll them."""
    if where == POSTCODE:
        search_postcode(phone, live_server, POSTCODE)
    else:
        phone.goto(live_server.url("/"))
        pick_borough(phone, where)
    open_everything(phone)
    assert_accessible(phone, axe_source, f"at 375 px with {where}")
    # some tables do scroll at this width: each is a tab stop named by its caption
    # a table is a tab stop exactly when it scrolls, named by its caption
    wraps = phone.eval_on_selector_all(
        ".table-wrap",
        """ws => ws.filter(w => w.getClientRects().length).map(w => ({
            scrolls: w.scrollWidth > w.clientWidth + 1, stop: w.tabIndex === 0,
            role: w.getAttribute("role"), name: w.getAttribute("aria-label"),
            caption: w.querySelector("caption") && w.querySelector("caption").textContent}))""",
    )
    assert any(w["scrolls"] for w in wraps) and not all(w["scrolls"] for w in wraps)
    for w in wraps:
        assert w["stop"] == w["scrolls"], w
        if w["scrolls"]:
            assert w["role"] == "region" and w["name"] == f"{w['caption']} (scrolls sideways)"
    # and the arrow keys scroll it
    wrap = phone.locator(".table-wrap[tabindex='0']").first
    wrap.focus()
    phone.keyboard.press("ArrowRight")
    phone.wait_for_function("w => w.scrollLeft > 0", arg=wrap.element_handle())


def test_a_boroughs_dashboard(page: Any, live_server: Server, axe_source: str) -> None:
    page.goto(live_server.url("/"))
    pick_borough(page, "Lambeth")
    assert page.locator("#panel-fairness .body").inner_text()
    open_everything(page)
    assert_accessible(page, axe_source, "with Lambeth's dashboard")


def test_partners_and_a_programme(page: Any, live_server: Server, axe_source: str) -> None:
    page.goto(live_server.url("/"))
    find_partners(page, "Community safety", "SW2 1RW")
    page.wait_for_selector("#partners[data-state=ready]")
    assert page.locator("#partner-list li.partner").count() > 0
    assert_accessible(page, axe_source, "with partners found")
    page.goto(live_server.url(f"/#programme?id={SSF}&financial_year=2023%2F24"))
    page.wait_for_selector("#programme[data-state=ready]")
    assert_accessible(page, axe_source, "with a programme shown")


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        (UNKNOWN, "Postcode not found"),
        ("not a postcode", "Not a valid UK postcode"),
        ("M1 1AE", "Outside London"),
        ("", "Enter a postcode"),
        ("KT1", "postcode district"),  # with links to its boroughs
        ("SM1 1AB", "withdrawn"),  # with a link to the patch it was in
    ],
)
def test_a_postcode_problem(
    page: Any, live_server: Server, axe_source: str, typed: str, title: str
) -> None:
    page.goto(live_server.url("/"))
    page.wait_for_selector("#borough option[value^=E09]", state="attached")
    box = page.get_by_label("Postcode")
    box.fill(typed)
    box.press("Enter")
    alert = page.locator("#problem")
    alert.wait_for()
    assert title in alert.inner_text()
    page.wait_for_load_state("networkidle")  # a district's boroughs come after
    assert_accessible(page, axe_source, f"after searching {typed!r}")


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_a_caseload_answered(page: Any, live_server: Server, axe_source: str) -> None:
    page.goto(live_server.url("/"))
    page.set_input_files(
        "#caseload-file",
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a table"}],
    )
    page.locator("#caseload-problem").wait_for()
    assert_accessible(page, axe_source, "with a file that is not a caseload")
    # two columns that may be the postcodes: the reader picks one
    rows = [["Client", "Home postcode", "Office postcode"], ["1", POSTCODE, "SW2 1RW"]]
    rows += [["2", "SW2 1RW", UNKNOWN], ["3", UNKNOWN, POSTCODE]]
    page.set_input_files(
        "#caseload-file",
        files=[{"name": "caseload.csv", "mimeType": "text/csv", "buffer": csv_bytes(rows)}],
    )
    page.locator("#caseload-pick").wait_for()
    assert_accessible(page, axe_source, "with a caseload's column to choose")
    page.get_by_role("button", name="Look up these postcodes").click()
    page.wait_for_selector("#caseload[data-state=ready]")
    assert page.locator("#caseload-summary table").count() > 0
    assert_accessible(page, axe_source, "with a caseload answered")


def test_correcting_a_listing(
    editing_page: Any, editing_server: tuple[Server, dict[str, str]], axe_source: str
) -> None:
    """The editor's form with a service loaded, then a save refused (a key that is not
    accepted: nothing is written)."""
    server, keys = editing_server
    page = editing_page
    page.goto(server.url("/#editing"))
    use_key(page, keys["own"][:-6] + "AAAAAA")
    load(page, OWN)
    page.wait_for_selector("#edit-form:not([hidden])")
    assert_accessible(page, axe_source, "with a service loaded to correct")
    page.get_by_label("Contact phone").fill("020 7946 0000")
    page.get_by_role("button", name="Save changes").click()
    page.locator("#edit-problem").wait_for()
    assert_accessible(page, axe_source, "with a correction refused")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/ogc?f=html",
        "/api/v1/ogc/conformance?f=html",
        "/api/v1/ogc/collections?f=html",
        "/api/v1/ogc/collections/sites?f=html",
        "/problems/invalid-postcode",
    ],
)
def test_the_ogc_and_problem_pages(
    page: Any, live_server: Server, axe_source: str, path: str
) -> None:
    answer = page.goto(live_server.url(path))
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
    assert_accessible(page, axe_source, f"on {path}")


# What axe cannot see: the page used by keyboard alone, as a screen reader hears it.

FOCUSED = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    const s = getComputedStyle(e), r = e.getBoundingClientRect();
    return {
        key: e.id || (e.tagName + ":" + (e.getAttribute("href") || e.className || "") + ":" +
                      e.textContent.trim().slice(0, 40) + ":" + Math.round(r.top + scrollY)),
        id: e.id, tag: e.tagName, cls: String(e.className), text: e.textContent.trim(),
        ring: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== "none",
        seen: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
              r.top < innerHeight && r.left < innerWidth,
    };
}"""


def tab(page: Any, back: bool = False) -> dict[str, Any] | None:
    page.keyboard.press("Shift+Tab" if back else "Tab")
    stop: dict[str, Any] | None = page.evaluate(FOCUSED)
    return stop


def test_by_keyboard_the_search_is_reached_sent_announced_and_left(
    page: Any, live_server: Server
) -> None:
    """From the top of the page: the skip link first, then the postcode box within a few
    stops; Enter sends it; the answer is said in the live status line while the focus stays
    in the box; every stop through the results shows a focus ring in the window (WCAG
    2.4.7, 2.4.11); and Tab goes on to the end of the page and out of it (no trap, 2.1.2)."""
    page.goto(live_server.url("/"))
    page.wait_for_selector("#borough option[value^=E09]", state="attached")
    status = page.locator("#status")  # there before anything is said, so it is heard
    assert status.get_attribute("role") == "status"
    assert status.get_attribute("aria-live") == "polite"

    first = tab(page)
    assert first is not None and first["text"] == "Skip to the search" and first["seen"]
    assert first["ring"]
    stops = [first]
    while stops[-1]["id"] != "postcode":
        stop = tab(page)
        assert stop is not None and len(stops) < 6, stops
        stops.append(stop)
    assert stops[-1]["ring"] and stops[-1]["seen"]

    page.keyboard.type(POSTCODE)
    page.keyboard.press("Enter")
    page.wait_for_selector("#results[data-state=ready]")
    page.wait_for_selector("#dashboard[data-state=ready]")
    expected = live_server.json("/patch", postcode=POSTCODE, per_page=1000)
    said = status.inner_text()
    assert said.startswith(POSTCODE) and expected["ward"]["name"] in said
    assert f"{expected['services']['total_items']} services serve this patch" in said
    assert page.evaluate("document.activeElement.id") == "postcode"  # not lost to the page

    # through the results to the end of the page, then out of it
    walked: list[dict[str, Any]] = []
    for _ in range(1500):
        stop = tab(page)
        if stop is None:
            break
        walked.append(stop)
    else:
        raise AssertionError(f"Tab never left the page; the last stops: {walked[-5:]}")
    keys = [s["key"] for s in walked]
    assert len(keys) == len(set(keys)), "a stop was reached twice on the way down"
    assert any(s["cls"] == "expand" for s in walked)  # the services' buttons
    assert any(s["id"] == "map" for s in walked)  # the map, whose arrow keys pan it
    assert walked[-1]["text"] == "fflate"  # the footer's last link
    hidden = [s for s in walked if not s["seen"]]
    assert not hidden, f"stops focused out of sight: {hidden}"
    ringless = [s for s in walked if not s["ring"]]
    assert not ringless, f"stops with no visible focus ring: {ringless}"

    # and back up again from outside the page, to the last link
    last = tab(page, back=True)
    assert last is not None and last["key"] == walked[-1]["key"]


def test_by_keyboard_a_problem_is_announced_and_the_box_marked(
    page: Any, live_server: Server
) -> None:
    page.goto(live_server.url("/"))
    page.wait_for_selector("#borough option[value^=E09]", state="attached")
    status, problem = live_server.api("/patch", postcode=UNKNOWN)
    assert status == 404
    page.get_by_label("Postcode").focus()
    page.keyboard.type(UNKNOWN)
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")  # an alert is read out as it appears
    alert.wait_for()
    assert problem["title"] in alert.inner_text()
    assert page.locator("#status").inner_text() == ""  # nothing else said over it
    assert page.evaluate("document.activeElement.id") == "postcode"  # to correct it
    box = page.get_by_label("Postcode")
    assert box.get_attribute("aria-invalid") == "true"
    assert "problem" in box.get_attribute("aria-describedby").split()
    # an empty box: said, and the focus taken back to it
    page.get_by_role("button", name="Show borough").focus()
    page.keyboard.press("Enter")
    assert "Choose a borough" in alert.inner_text()
    assert page.evaluate("document.activeElement.id") == "borough"
