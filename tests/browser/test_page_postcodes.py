"""The postcode box in headless Chromium: a withdrawn postcode is told in plain words with a
link to its area's patch, and the spacing and case people type are accepted. Expected
names and months are read from the source files (tests/withdrawn.py, Code-Point Open)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser.conftest import Server
from tests.withdrawn import CODEPOINT, nspl_row, withdrawn


@pytest.mark.parametrize(
    ("name", "which"), [("SM", {"postcode": "SM1 1AB"}), ("WC", {"area": "WC"})], ids=["SM", "WC"]
)
def test_a_withdrawn_postcode_is_told_in_plain_words_with_a_link_to_its_patch(
    page: Any, live_server: Server, shared_data_dir: Path, artifacts: Path, name: str, which: dict
) -> None:
    expected = withdrawn(shared_data_dir, nspl_row(shared_data_dir, **which))
    status, problem = live_server.api("/patch", postcode=expected.postcode)
    assert status == 404 and problem["code"] == "postcode-terminated"
    assert problem["last_known"]["ward"]["code"] == expected.ward_code

    page.goto(live_server.url("/"))
    page.get_by_label("Postcode").fill(expected.postcode)
    page.get_by_label("Postcode").press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert page.inner_text("#problem .withdrawn") == expected.sentence
    assert page.locator("#results").is_hidden()
    link = alert.get_by_role("link")
    assert link.get_attribute("href") == f"/?area={expected.ward_code}"
    assert expected.ward_name in link.inner_text() and expected.borough_name in link.inner_text()
    page.screenshot(path=str(artifacts / f"page-withdrawn-{name}.png"))

    link.click()
    page.wait_for_selector("#results[data-state=ready]")
    assert parse_qs(urlparse(page.url).query) == {"area": [expected.ward_code]}
    facts = page.inner_text("#patch-facts")
    assert expected.ward_name in facts and expected.borough_name in facts
    assert page.locator("#problem").is_hidden()
    feed = page.get_attribute("#feed-link", "href")
    assert feed == f"/api/v1/changes.atom?area={expected.ward_code}"


def test_the_postcode_box_accepts_the_spacing_and_case_people_type(
    page: Any, live_server: Server, shared_data_dir: Path
) -> None:
    with open(shared_data_dir / CODEPOINT, newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["postcode"] == "SW2 1RW")

    page.goto(live_server.url("/"))
    box = page.get_by_label("Postcode")
    box.press_sequentially("  sw2   1rw ")  # typed key by key, as a person would
    box.press("Enter")
    page.wait_for_selector("#results[data-state=ready]")
    assert page.inner_text("#status").startswith("SW2 1RW: ")
    facts = page.inner_text("#patch-facts")
    assert row["ward_name"] in facts and row["laua_name"] in facts
    assert parse_qs(urlparse(page.url).query) == {"postcode": ["SW2 1RW"]}
    assert box.input_value() == "SW2 1RW"
    # copied out of a sentence: its punctuation let go in the box, the address and the
    # headings, as the API lets it go (it was shown "near SW2 1RW," : the page probe)
    for typed in ("SW2 1RW,", "(sw2-1rw)."):
        box.fill(typed)
        box.press("Enter")
        page.wait_for_function("document.getElementById('postcode').value === 'SW2 1RW'")
        page.wait_for_selector("#results[data-state=ready]")
        assert page.inner_text("#status").startswith("SW2 1RW: ")
        assert parse_qs(urlparse(page.url).query) == {"postcode": ["SW2 1RW"]}
