"""The public page in a real browser: Debian's headless Chromium (/usr/bin/chromium) driven
by Playwright's sync API, against the app served on a free localhost port from a background
thread, over a fresh SQLite database with the real geography, the demo directory and the
need figures (Met Police recorded crime, ONS population) that `directory demo load` loads.

Every page a test opens refuses (and records) any request to a host other than the local
server, and fails the test on an uncaught script error or a Content-Security-Policy
violation. Screenshots go to test-artifacts/ at the top of the checkout."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from directory import create_app
from directory.cli import cli
from directory.settings import Settings
from tests.conftest import REPO_ROOT
from tests.servers import wsgi_server

CHROMIUM = Path("/usr/bin/chromium")
#: the services of the editing server's two editor keys: the first key's own, and another
#: organisation's
EDITABLE = "oxygen-kingston-knife-crime"
NOT_EDITABLE = "rescue-and-response"
ARTIFACTS = REPO_ROOT / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class Server:
    base: str

    def url(self, path: str) -> str:
        return self.base + path

    def api(self, path: str, **params: Any) -> tuple[int, Any]:
        """GET /api/v1{path} outside the browser: (status, parsed JSON body)."""
        query = ("?" + urllib.parse.urlencode(params, doseq=True)) if params else ""
        try:
            with urllib.request.urlopen(self.base + "/api/v1" + path + query, timeout=30) as res:
                return res.status, json.loads(res.read())
        except urllib.error.HTTPError as error:
            body = error.read()
            error.close()
            return error.code, (json.loads(body) if body else None)

    def json(self, path: str, **params: Any) -> Any:
        status, body = self.api(path, **params)
        assert status == 200, (path, status, body)
        return body


@pytest.fixture(scope="session")
def live_server(
    sqlite_demo: Path, shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    # the demo directory, and the Met crime and ONS population figures for funding vs need
    tmp = tmp_path_factory.mktemp("browser")
    shutil.copy(sqlite_demo, tmp / "directory.sqlite3")
    settings = Settings(
        database_url="",
        instance_dir=tmp,
        geodata_dir=shared_data_dir,
        testing=True,
        data_version_ttl=0.0,
    )
    app = create_app(settings)
    try:
        with wsgi_server(app) as base:
            yield Server(base)
    finally:
        app.extensions["directory"].db.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. "
            "Install it with `apt-get install -y chromium` (.ci/run does this)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did that a test must not allow."""

    base: str
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture()
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def open_page(browser: Any, server: Server, watch: Watch, width: int = 1280, height: int = 900):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(server.base + "/") or url.startswith("data:"):
            route.continue_()
        else:
            watch.external.append(url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))

    def console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            watch.errors.append(f"CSP: {message.text}")

    page.on("console", console)
    return page


def watched_page(browser: Any, server: Server, **size: int) -> Iterator[Any]:
    """A page of ``server`` (``width``, ``height``); asserts when it is closed that it
    stayed on the local server and had no script error or CSP violation."""
    watch = Watch(server.base)
    page = open_page(browser, server, watch, **size)
    yield page
    page.context.close()
    assert watch.external == [], f"requests to other hosts: {watch.external}"
    assert watch.errors == [], watch.errors


@pytest.fixture()
def page(browser: Any, live_server: Server) -> Iterator[Any]:
    """A desktop-width page; asserts afterwards that it stayed on the local server."""
    yield from watched_page(browser, live_server)


@pytest.fixture()
def phone(browser: Any, live_server: Server) -> Iterator[Any]:
    """A 375 px wide page (a small phone)."""
    yield from watched_page(browser, live_server, width=375, height=812)


@pytest.fixture(scope="module")
def editing_server(
    sqlite_demo: Path, shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server of the module's own over its own copy of the demo directory (its tests
    write), and two editor keys: "own", of EDITABLE's organisation, and "other", of
    NOT_EDITABLE's."""
    tmp = tmp_path_factory.mktemp("browser-editing")
    shutil.copy(sqlite_demo, tmp / "directory.sqlite3")
    settings = Settings(
        database_url="", instance_dir=tmp, geodata_dir=shared_data_dir, testing=True,
        data_version_ttl=0.0, index_rebuild="inline", log_level="WARNING",
    )  # fmt: skip
    app = create_app(settings)
    client = app.test_client()
    keys = {}
    for name, service in (("own", EDITABLE), ("other", NOT_EDITABLE)):
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
    yield from watched_page(browser, server)
