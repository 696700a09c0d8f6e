"""Feedback and practice notes on the page, in headless Chromium: a service's "Tell us" form
sends feedback that an officer then finds through the API, exactly as typed; a practice
note is listed on its service and in the borough dashboard, its title (with markup in it)
shown as text, never run. On a database of this module's own (the tests write to it)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from directory import create_app
from directory.cli import cli
from directory.settings import Settings
from tests.browser.conftest import Server
from tests.browser.test_page import POSTCODE, search_postcode
from tests.servers import wsgi_server

MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>'


@pytest.fixture(scope="module")
def app(
    sqlite_demo: Path, shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("participation")
    shutil.copy(sqlite_demo, tmp / "directory.sqlite3")
    settings = Settings(
        database_url="", instance_dir=tmp, geodata_dir=shared_data_dir, testing=True,
        data_version_ttl=0.0,
    )  # fmt: skip
    made = create_app(settings)
    yield made
    made.extensions["directory"].db.dispose()


@pytest.fixture(scope="module")
def officer(app: Flask) -> str:
    result = app.test_cli_runner().invoke(
        cli, ["keys", "create", "--role", "officer", "--name", "Page officer", "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["key"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def live_server(app: Flask) -> Iterator[Server]:
    """This module's own server (the session's is shared and never written to)."""
    with wsgi_server(app) as base:
        yield Server(base)


@pytest.fixture(scope="module")
def oxygen(live_server: Server, app: Flask, officer: str) -> dict[str, Any]:
    """Oxygen's service near KT1 1EU, with a practice note whose title carries markup."""
    patch = live_server.json("/patch", postcode=POSTCODE, per_page=1000)
    service = next(
        s for s in patch["services"]["contents"] if s["organisation"]["name"] == "Oxygen"
    )
    note = app.test_client().post(
        "/api/v1/practice",
        json={"service": service["id"], "title": "Mentors " + MARKUP, "summary": "It worked."},
        headers={"Authorization": f"Bearer {officer}"},
    )
    assert note.status_code == 201, note.json
    return {"service": service, "note": note.json}


def _open_service(page: Any, server: Server, service_id: int) -> Any:
    search_postcode(page, server, POSTCODE)
    card = page.locator(f".service[data-service='{service_id}']")
    card.locator("button.expand").click()
    card.locator(".detail[data-loaded=yes]").wait_for()
    return card


def test_feedback_sent_from_the_page_is_stored_as_typed(
    page: Any, live_server: Server, app: Flask, officer: str, oxygen: dict[str, Any],
    artifacts: Path,
) -> None:  # fmt: skip
    service = oxygen["service"]
    card = _open_service(page, live_server, service["id"])
    card.locator("details.tell-us summary").click()
    form = card.locator("form.feedback")
    form.get_by_label("What is it about?").select_option("closed")
    typed = "It closed in June. " + MARKUP
    form.get_by_label("Your message").fill(typed)
    form.get_by_label("Your e-mail").fill("reader@example.org")
    form.get_by_role("button", name="Send").click()
    form.locator(".feedback-result[data-state=sent]").wait_for()
    assert "not published" in form.locator(".feedback-result").inner_text()
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=str(artifacts / "page-feedback-sent.png"), full_page=True)

    listed = app.test_client().get(
        "/api/v1/feedback", query_string={"service": service["id"]},
        headers={"Authorization": f"Bearer {officer}"},
    )  # fmt: skip
    (stored,) = [f for f in listed.json["contents"] if f["text"] == typed]
    assert stored["category"] == "closed" and stored["email"] == "reader@example.org"
    assert stored["status"] == "new"


def test_the_form_shows_a_problem_and_sends_nothing_kept(
    page: Any, live_server: Server, oxygen: dict[str, Any]
) -> None:
    card = _open_service(page, live_server, oxygen["service"]["id"])
    card.locator("details.tell-us summary").click()
    form = card.locator("form.feedback")
    form.get_by_label("Your message").fill("   ")
    form.get_by_role("button", name="Send").click()
    form.locator(".feedback-result[data-state=problem]").wait_for()
    assert "Not sent" in form.locator(".feedback-result").inner_text()


def test_a_practice_note_is_listed_as_text_on_its_service_and_the_dashboard(
    page: Any, live_server: Server, oxygen: dict[str, Any]
) -> None:
    note = oxygen["note"]
    card = _open_service(page, live_server, oxygen["service"]["id"])
    item = card.locator(f"ul.service-practice li[data-note='{note['id']}'] a")
    assert item.text_content() == note["title"]
    assert item.get_attribute("href") == f"/api/v1/practice/{note['id']}"
    dashboard = page.locator(f"#panel-practice li[data-note='{note['id']}'] a")
    assert dashboard.text_content() == f"{note['title']} – {note['service']['name']}"
    assert page.locator("#panel-practice script, #panel-practice img, .detail img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_refusal_marks_its_fields_and_keeps_the_focus_in_the_form(
    page: Any, live_server: Server, oxygen: dict[str, Any]
) -> None:
    """What the API refuses is marked on the fields it names, by the form's names for them,
    tied to them (aria-invalid, aria-describedby), and the focus goes to the first: before,
    the errors were a list under the button in the API's keys ("text: …"), and sending took
    the focus to the page's body (the disabled button lost it), every time (the page probe
    of 5 December). After a send that succeeds the focus is still on Send."""
    card = _open_service(page, live_server, oxygen["service"]["id"])
    card.locator("details.tell-us summary").click()
    form = card.locator("form.feedback")
    message, email = form.get_by_label("Your message"), form.get_by_label("Your e-mail")
    send = form.get_by_role("button", name="Send")
    for blank, wrong in ((("   ", ""), message), (("It moved.", "me@"), email)):
        message.fill(blank[0])
        email.fill(blank[1])
        send.click()
        form.locator(".feedback-result[data-state=problem]").wait_for()
        assert form.locator(".feedback-result [role=alert]").inner_text() == (
            "Not sent: correct what is marked below."
        )
        assert wrong.get_attribute("aria-invalid") == "true"
        described = page.locator(f"#{wrong.get_attribute('aria-describedby')}")
        name = "Your message: " if wrong is message else "Your e-mail: "
        assert described.inner_text().startswith(name)
        assert wrong.evaluate("node => node === document.activeElement")
        assert form.locator("[aria-invalid=true]").count() == 1  # (the last refusal's only)

    message.fill("The phone number has changed.")
    email.fill("")
    send.focus()
    page.keyboard.press("Enter")
    form.locator(".feedback-result[data-state=sent]").wait_for()
    assert message.get_attribute("aria-invalid") is None
    assert form.locator(".field-error").count() == 0
    assert send.evaluate("node => node === document.activeElement")
