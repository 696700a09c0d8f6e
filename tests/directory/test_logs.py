"""One log line per request, as text or JSON on stderr (directory/web/logs.py)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from directory.app import create_app
from directory.cli import cli
from directory.settings import Settings
from directory.web import logs

FORMATS = ["text", "json"]
POSTCODE = "/api/v1/postcodes/KT1%201EU"
BOUNDARY = "/api/v1/areas/E09000021/boundary"  # takes a query parameter (simplify)
TEXT_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) INFO directory\.requests: "
    r"(?P<method>[A-Z]+) (?P<target>\S+) (?P<status>\d{3}) (?P<duration_ms>\d+\.\d\d)ms "
    r"version=(?P<version>\S+) bytes=(?P<bytes>\S+) remote=(?P<remote>\S+) "
    r"request_id=(?P<request_id>[!-~]+)$"
)
JSON_FIELDS = {
    "time", "level", "logger", "message",
    "method", "path", "query", "status", "duration_ms", "data_version", "bytes", "remote_addr",
    "request_id",
}  # fmt: skip


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put the process's log format and level back: other tests' apps share them."""
    handler = next((h for h in logging.getLogger().handlers if h.get_name() == "directory"), None)
    formatter = handler.formatter if handler else None
    level = logging.getLogger("directory").level
    yield
    if handler is not None:
        handler.setFormatter(formatter)
    logging.getLogger("directory").setLevel(level)


def make_app(settings: Settings, log_format: str, **changes: Any) -> Flask:
    changes.setdefault("log_level", "INFO")  # the other tests' settings log warnings only
    app = create_app(settings.with_overrides(log_format=log_format, **changes))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug in a view")

    return app


@pytest.fixture()
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        app.extensions["directory"].db.dispose()


@pytest.fixture(params=FORMATS)
def app(request: pytest.FixtureRequest, geo_settings: Settings, apps: list[Flask]) -> Flask:
    apps.append(make_app(geo_settings, request.param))
    return apps[-1]


def request_lines(err: str, log_format: str) -> list[dict[str, Any]]:
    """The request lines in captured stderr, as dicts with the JSON fields' names."""
    found = []
    for line in err.splitlines():
        if log_format == "json":
            record = json.loads(line)  # every line is JSON, the other records' too
            if record["logger"] == "directory.requests":
                found.append(record)
        elif match := TEXT_LINE.match(line):
            path, _, query = match["target"].partition("?")
            found.append({
                "method": match["method"], "path": path, "query": query,
                "status": int(match["status"]), "duration_ms": float(match["duration_ms"]),
                "data_version": None if match["version"] == "-" else int(match["version"]),
                "bytes": None if match["bytes"] == "-" else int(match["bytes"]),
                "remote_addr": match["remote"], "request_id": match["request_id"],
            })  # fmt: skip
        else:
            assert "directory.requests" not in line, f"a request line out of format: {line!r}"
    return found


def log_format_of(app: Flask) -> str:
    return app.extensions["directory"].settings.log_format  # type: ignore[no-any-return]


def test_each_request_is_one_line_with_the_data_version_it_was_answered_from(app, capsys):
    capsys.readouterr()
    client = app.test_client()
    status = client.get("/api/v1/status")
    version = status.get_json()["data_version"]
    postcode = client.get(POSTCODE)  # (it takes no query parameter: ?x=1 is a 400)
    health = client.get("/health")
    assert (status.status_code, postcode.status_code, health.status_code) == (200, 200, 200)
    assert postcode.headers["ETag"].startswith(f'"v{version}-')  # the ETag's basis is the same

    lines = request_lines(capsys.readouterr().err, log_format_of(app))
    assert [(r["method"], r["path"], r["query"], r["status"]) for r in lines] == [
        ("GET", "/api/v1/status", "", 200),
        ("GET", POSTCODE, "", 200),  # the path as sent, still percent-encoded
        ("GET", "/health", "", 200),
    ]
    assert [r["data_version"] for r in lines] == [version, version, None]  # /health reads none
    assert [r["bytes"] for r in lines] == [len(status.data), len(postcode.data), len(health.data)]
    assert all(r["duration_ms"] > 0 for r in lines)
    assert {r["remote_addr"] for r in lines} == {"127.0.0.1"}


def test_conditional_problem_and_failed_requests_are_logged_once_with_their_status(app, capsys):
    client = app.test_client()
    etag = client.get(POSTCODE).headers["ETag"]
    capsys.readouterr()
    answers = [
        client.get(POSTCODE, headers={"If-None-Match": etag}),
        client.get("/api/v1/nothing-here"),
        client.delete(POSTCODE),
        client.get("/api/v1/areas?type=county"),
        client.get("/boom"),
    ]
    assert [a.status_code for a in answers] == [304, 404, 405, 422, 500]
    err = capsys.readouterr().err
    lines = request_lines(err, log_format_of(app))
    assert [(r["method"], r["path"], r["status"]) for r in lines] == [
        ("GET", POSTCODE, 304),
        ("GET", "/api/v1/nothing-here", 404),
        ("DELETE", POSTCODE, 405),
        ("GET", "/api/v1/areas", 422),
        ("GET", "/boom", 500),
    ]
    assert lines[0]["bytes"] == 0 and lines[0]["data_version"] is not None
    assert [r["bytes"] for r in lines[1:]] == [len(a.data) for a in answers[1:]]
    assert "a bug in a view" in err  # the traceback is logged too, in the same format


def test_an_exception_that_escapes_every_handler_is_logged_as_a_500(app, capsys):
    @app.after_request
    def broken(response: Any) -> Any:
        raise RuntimeError("a bug in a hook")

    capsys.readouterr()
    with pytest.raises(RuntimeError, match="a bug in a hook"):  # testing: Flask re-raises
        app.test_client().get("/health")
    lines = request_lines(capsys.readouterr().err, log_format_of(app))
    assert [(r["path"], r["status"], r["bytes"]) for r in lines] == [("/health", 500, None)]


def test_the_page_and_its_static_files_are_logged(app, capsys):
    client = app.test_client()
    capsys.readouterr()
    page = client.get("/")
    script = re.search(r'src="(/site/[^"?]+)', page.get_data(as_text=True))
    assert script is not None
    asset = client.get(script[1])
    assert (page.status_code, asset.status_code) == (200, 200)
    lines = request_lines(capsys.readouterr().err, log_format_of(app))
    assert [(r["path"], r["status"]) for r in lines] == [("/", 200), (script[1], 200)]
    assert lines[1]["bytes"] == len(asset.data)


def test_json_lines_parse_and_carry_every_field(geo_settings, apps, capsys):
    apps.append(make_app(geo_settings, "json"))
    client = apps[-1].test_client()
    version = client.get("/api/v1/status").get_json()["data_version"]
    capsys.readouterr()
    client.get(BOUNDARY + "?simplify=20")
    logging.getLogger("directory.store.loading").info("an application record")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 2
    request, other = lines
    assert set(request) == JSON_FIELDS
    assert request["level"] == "INFO" and request["logger"] == "directory.requests"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", request["time"])
    assert request["message"].startswith(f"GET {BOUNDARY}?simplify=20 200 ")
    assert request["message"].endswith(f"ms version={version} bytes={request['bytes']} "
                                       "remote=127.0.0.1")  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{32}", request["request_id"])
    assert (request["path"], request["query"], request["data_version"]) == (
        BOUNDARY, "simplify=20", version
    )  # fmt: skip
    assert isinstance(request["duration_ms"], float) and request["duration_ms"] > 0
    assert isinstance(request["status"], int) and isinstance(request["bytes"], int)
    # the application's other records are JSON too, with the standard fields
    assert set(other) == {"time", "level", "logger", "message"}
    assert (other["logger"], other["message"]) == (
        "directory.store.loading",
        "an application record",
    )


def test_text_lines_cannot_be_split_or_forged_by_the_path_or_query(app, capsys):
    capsys.readouterr()
    app.test_client().get("/a%0Ab%20c?q=%0A\x01x y")
    err = capsys.readouterr().err
    lines = request_lines(err, log_format_of(app))
    assert [(r["path"], r["query"], r["status"]) for r in lines] == [
        ("/a%0Ab%20c", "q=%0A%01x%20y", 404)
    ]
    assert len(err.splitlines()) == 1


def test_two_apps_in_one_process_still_write_one_line_a_request(geo_settings, apps, capsys):
    apps.append(make_app(geo_settings, "text"))
    apps.append(make_app(geo_settings, "json"))  # the last app's format is the process's
    ours = [h for h in logging.getLogger().handlers if h.get_name() == logs.HANDLER_NAME]
    assert len(ours) == 1
    capsys.readouterr()
    apps[0].test_client().get("/health")
    apps[1].test_client().get("/health")
    lines = request_lines(capsys.readouterr().err, "json")
    assert [(r["path"], r["status"]) for r in lines] == [("/health", 200)] * 2


def test_nothing_is_logged_with_the_level_above_info(geo_settings, apps, capsys):
    apps.append(make_app(geo_settings, "text", log_level="WARNING"))
    capsys.readouterr()
    assert apps[-1].test_client().get(POSTCODE).status_code == 200
    assert capsys.readouterr().err == ""


def test_caplog_still_sees_the_request_records(geo_settings, apps, caplog):
    apps.append(make_app(geo_settings, "text"))
    with caplog.at_level(logging.INFO, logger="directory.requests"):
        apps[-1].test_client().get("/api/v1/nothing-here")
    records = [r for r in caplog.records if r.name == "directory.requests"]
    assert len(records) == 1
    assert (records[0].status, records[0].path) == (404, "/api/v1/nothing-here")  # type: ignore[attr-defined]


def test_serve_drops_gunicorn_access_log_and_passes_the_level(monkeypatch, tmp_path):
    started: list[list[str]] = []
    monkeypatch.setattr("directory.cli.os.execv", lambda path, argv: started.append(argv))
    monkeypatch.setenv("DIRECTORY_LOG_LEVEL", "warning")
    # a database file of its own (serve refuses one that is not there): not the clone's
    # instance/, which only `make run` makes, so that `make test` passes in a fresh clone
    (tmp_path / "directory.sqlite3").touch()
    monkeypatch.setenv("DIRECTORY_INSTANCE_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    (argv,) = started
    assert "--access-logfile" not in argv
    assert argv[argv.index("--log-level") + 1] == "warning"
    assert argv[-1] == "directory:create_app()"


def test_a_head_request_is_logged_with_no_body_bytes(app, capsys):
    """A HEAD's Content-Length is the GET's; no body is sent, so the line says 0 (it said
    the GET's bytes)."""
    client = app.test_client()
    capsys.readouterr()
    head = client.head(POSTCODE)
    get = client.get(POSTCODE)
    assert (head.status_code, get.status_code) == (200, 200)
    assert int(head.headers["Content-Length"]) == len(get.data) > 0
    lines = request_lines(capsys.readouterr().err, log_format_of(app))
    assert [(r["method"], r["bytes"]) for r in lines] == [("HEAD", 0), ("GET", len(get.data))]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (None, False),
        ("0f5c2a4e9b7d4c1e8a3b6d2f1e0c9b8a", True),  # nginx's $request_id
        ("client-42/retry=1", True),
        ("x" * 200, True),
        ("x" * 201, False),  # too long to write into every line
        ("two words", False),  # a space could forge a text line's fields
        ("caf\u00e9", False),
    ],
)
def test_every_answer_carries_its_request_id_and_its_line_names_it(app, capsys, sent, kept):
    capsys.readouterr()
    headers = {} if sent is None else {"X-Request-Id": sent}
    answer = app.test_client().get("/health", headers=headers)
    request_id = answer.headers["X-Request-Id"]
    if kept:
        assert request_id == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    (line,) = request_lines(capsys.readouterr().err, log_format_of(app))
    assert line["request_id"] == request_id


def test_a_500_names_its_request_id_in_the_problem_and_the_traceback(app, capsys):
    capsys.readouterr()
    answer = app.test_client().get("/boom", headers={"X-Request-Id": "ticket-1234"})
    assert answer.status_code == 500
    assert answer.headers["X-Request-Id"] == "ticket-1234"
    assert answer.get_json()["request_id"] == "ticket-1234"  # for the user to quote
    err = capsys.readouterr().err
    if log_format_of(app) == "json":
        (failure,) = [json.loads(line) for line in err.splitlines() if "exc_info" in line]
        assert failure["request_id"] == "ticket-1234" and "a bug in a view" in failure["exc_info"]
    else:
        assert "unhandled error on GET /boom request_id=ticket-1234\nTraceback" in err
    assert [r["request_id"] for r in request_lines(err, log_format_of(app))] == ["ticket-1234"]


def test_a_4xx_problem_has_no_request_id_member_but_the_header(geo_settings, apps):
    apps.append(make_app(geo_settings, "text", log_level="WARNING"))
    answer = (
        apps[-1].test_client().get("/api/v1/nothing-here", headers={"Origin": "https://a.example"})
    )
    assert answer.status_code == 404 and "request_id" not in answer.get_json()
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-Id"])  # logging off too
    assert "X-Request-Id" in answer.headers["Access-Control-Expose-Headers"].split(", ")
