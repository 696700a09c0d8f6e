"""Correcting a listing on the public page (issue 17 §1): an editor pastes their API key
(kept in sessionStorage only), loads their service, changes its description and website,
and the page sends PATCH with If-Match and shows the result; a wrong key and another
organisation's key are shown their 401 and 403 problems, and nothing is changed.

These tests write, so they have a server (and a copy of the demo directory) of their own,
not the session's shared one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from directory import create_app
from directory.cli import cli
from directory.settings import Settings
from tests.browser.conftest import Server, Watch, open_page
from tests.servers import wsgi_server

OWN = "oxygen-kingston-knife-crime"
OTHER = "rescue-and-response"


@pytest.fixture(scope="module")
def editing_server(
    sqlite_demo: Path, shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("browser-editing")
    shutil.copy(sqlite_demo, tmp / "directory.sqlite3")
    settings = Settings(
        database_url="", instance_dir=tmp, geodata_dir=shared_data_dir, testing=True,
        data_version_ttl=0.0, index_rebuild="inline", log_level="WARNING",
    )  # fmt: skip
    app = create_app(settings)
    client = app.test_client()
    keys = {}
    for name, service in (("own", OWN), ("other", OTHER)):
        org = client.get(f"/api/v1/services/{service}").json["organisation"]["ref"]
        result = app.test_cli_runner().invoke(
            cli, ["keys", "create", "--role", "editor", "--organisation", org,
                  "--name", f"{name} editor", "--json"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        keys[name] = json.loads(result.output)["key"]
    try:
        with wsgi_server(app) as base:
            yield Server(base), keys
    finally:
        app.extensions["directory"].db.dispose()


@pytest.fixture()
def editing_page(browser: Any, editing_server: tuple[Server, dict[str, str]]) -> Iterator[Any]:
    server, _keys = editing_server
    watch = Watch(server.base)
    page = open_page(browser, server, watch)
    yield page
    page.context.close()
    assert watch.external == [], f"requests to other hosts: {watch.external}"
    assert watch.errors == [], watch.errors


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
