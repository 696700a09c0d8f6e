"""Correcting a listing on the public page (issue 17 §1): an editor pastes their API key
(kept in sessionStorage only), loads their service, changes its description and website,
and the page sends PATCH with If-Match and shows the result; a wrong key and another
organisation's key are shown their 401 and 403 problems, and nothing is changed.

These tests write, so they have a server (and a copy of the demo directory) of their own,
not the session's shared one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import EDITABLE as OWN


def use_key(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use this key").click()
    page.wait_for_selector("#edit-key-status:text('A key is in use')")


def load(page: Any, service: str) -> None:
    page.get_by_label("Service (its ref or id)").fill(service)
    page.get_by_role("button", name="Load", exact=True).click()


def test_an_editor_corrects_their_listing(editing_page, editing_server, artifacts):
    server, keys = editing_server
    page = editing_page
    page.goto(server.url("/#editing"))
    use_key(page, keys["own"])
    assert page.evaluate("sessionStorage.getItem('directory.apiKey')") == keys["own"]
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    assert page.get_by_label("API key").input_value() == ""  # not left on the page
    load(page, OWN)
    page.wait_for_selector("#edit-form:not([hidden])")
    before = server.json(f"/services/{OWN}")
    assert page.get_by_label("Description").input_value() == before["description"]
    text = "Knife-crime prevention for young people in Kingston: <b>mentoring</b> & workshops."
    page.get_by_label("Description").fill(text)
    page.get_by_label("Website").fill("www.oxygen.example.org")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_selector("#edit-status:text('Saved')")
    page.screenshot(path=str(artifacts / "page-editing.png"), full_page=False)
    after = server.json(f"/services/{OWN}")
    assert after["description"] == text
    assert after["contact"]["website"] == "https://www.oxygen.example.org"  # as imports write it
    assert page.get_by_label("Website").input_value() == "https://www.oxygen.example.org"
    assert page.locator("#edit-problem").is_hidden()
    assert page.locator("#editing b").count() == 0  # the text was never parsed as HTML
    (event,) = [
        e for e in server.json(f"/services/{OWN}/history")["contents"]
        if "description" in e["changes"]
    ]  # fmt: skip
    assert event["actor"] == "own editor" and set(event["changes"]) == {"description", "website"}


@pytest.mark.parametrize(
    ("which", "status_text"),
    [("wrong", "The key was not accepted."), ("other", "This key may not change this service.")],
)
def test_a_key_that_may_not_is_told_why(editing_page, editing_server, which, status_text):
    server, keys = editing_server
    page = editing_page
    before = server.json(f"/services/{OWN}")
    page.goto(server.url("/#editing"))
    key = keys["other"] if which == "other" else keys["own"][:-6] + "AAAAAA"
    use_key(page, key)
    load(page, OWN)
    page.wait_for_selector("#edit-form:not([hidden])")
    page.get_by_label("Contact phone").fill("020 7946 0000")
    page.get_by_role("button", name="Save changes").click()
    problem = page.locator("#edit-problem")
    problem.wait_for(state="visible")
    assert status_text in problem.inner_text()
    assert "Saved" not in page.locator("#edit-status").inner_text()
    assert server.json(f"/services/{OWN}") == before
