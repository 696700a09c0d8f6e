"""Problem types: every problem's ``type`` is its code's page, ``/problems/{code}``, which
says what the code means and what to do (RFC 9457 §3.1.1), for every code the app, gunicorn
or nginx can answer with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape

from directory.usecases import problems
from directory.web import http
from directory.web.serving import gunicorn

PACKAGE = Path(__file__).resolve().parents[2] / "directory"
#: a code written where a problem is made: ``code = "…"`` on an error class, ``"code":
#: "…"`` in a problem's body (Python or nginx's JSON), ``416: "…"`` in a status's table
_CODE_WRITTEN = re.compile(
    r"""(?:\bcode = |["']code["']:\s*|\b[45]\d\d: )["']([a-z][a-z0-9-]+)["']"""
)


def _codes_written() -> set[str]:
    found: set[str] = set()
    for path in [*PACKAGE.rglob("*.py"), PACKAGE / "web/serving/nginx.conf"]:
        found.update(_CODE_WRITTEN.findall(path.read_text(encoding="utf-8")))
    return found


def _every_code() -> set[str]:
    catalogue = problems.catalogue(http.PROBLEM_STATUSES)
    return (
        _codes_written() | set(http.PROBLEM_STATUSES) | set(gunicorn._CODES.values())
        | set(catalogue)
    )  # fmt: skip


def test_the_codes_are_found_where_problems_are_made():
    written = _codes_written()
    assert {"invalid-postcode", "range-not-satisfiable", "service-unavailable"} <= written


def test_every_text_is_of_a_code_and_every_code_has_one():
    catalogue = problems.catalogue(http.PROBLEM_STATUSES)
    assert set(problems._texts()) == set(catalogue) == _every_code()


@pytest.mark.parametrize("code", sorted(_every_code()))
def test_every_code_has_a_page(client, code):
    entry = client.get(f"/problems/{code}", headers={"Accept": "application/json"})
    assert entry.status_code == 200 and entry.mimetype == "application/json"
    body = entry.get_json()
    assert body["code"] == code and body["meaning"] and body["action"]
    assert client.get(f"/problems/{code}?f=json").get_json() == body
    page = client.get(f"/problems/{code}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert escape(body["title"]) in page.get_data(as_text=True)


def test_an_unknown_code_is_a_404_problem(client):
    answer = client.get("/problems/no-such-code")
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["type"] == "/problems/not-found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patch?area=",
        "/api/v1/patch?postcode=SW1A1AA&live_on=2026-13-01",
        "/api/v1/grants?format=xml",
        "/api/v1/areas?type=county",
    ],
)
def test_one_code_one_type(client, path):
    """A validation error of webargs' is invalid-input with invalid-input's type, as the
    use cases' are (it was about:blank, titled Unprocessable Entity)."""
    body = client.get(path).get_json()
    assert body["code"] == "invalid-input" and body["type"] == "/problems/invalid-input"
    # and titled as its page titles it, as the use cases' invalid-input is (RFC 9457 §3.1.3)
    page = client.get("/problems/invalid-input?f=json").get_json()
    assert body["title"] == page["title"] == "The request has invalid values"


@pytest.mark.parametrize(
    ("path", "headers", "code"),
    [
        ("/api/v1/nothing-here", {}, "not-found"),
        ("/api/v1/areas/E09000022", {"Accept": "application/xml"}, "not-acceptable"),
        ("/api/v1/areas/E09000022", {"Range": "bytes=999999-"}, "range-not-satisfiable"),
        ("/api/v1/areas/E09000022", {"If-Match": '"other"'}, "precondition-failed"),
        ("/api/v1/postcodes/NOT A POSTCODE", {}, "invalid-postcode"),
    ],
)
def test_every_problem_types_itself_by_its_code(client, path, headers, code):
    body = client.get(path, headers=headers).get_json()
    assert body["code"] == code and body["type"] == f"/problems/{code}"
    assert body["title"] == client.get(f"/problems/{code}?f=json").get_json()["title"]


def test_a_500_is_titled_as_its_code_s_page_titles_it(geo_settings):
    """One code, one title: the 500 answer said "Internal Server Error" where
    /problems/internal-error says "Internal error"."""
    from directory import create_app

    app = create_app(geo_settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug in a view")

    client = app.test_client()
    try:
        answer = client.get("/boom")
        page = client.get("/problems/internal-error?f=json").get_json()
    finally:
        app.extensions["directory"].db.dispose()
    assert answer.status_code == 500 and answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert (body["code"], body["title"]) == ("internal-error", page["title"])


def test_a_status_s_title_is_the_same_on_every_python(monkeypatch):
    """Python 3.13 renamed four statuses' phrases after RFC 9110 ("Unprocessable Content"):
    a code titled by its status keeps the one the document and its page keep, whatever
    the Python (here 3.13's phrases, put in place of the running one's)."""
    from http import HTTPStatus

    newer = {status: new for status, (new, _kept) in problems.RENAMED_PHRASES.items()}

    class Python313Status:
        def __init__(self, status: int) -> None:
            self.phrase = newer.get(status, HTTPStatus(status).phrase)

    kept = problems.catalogue(http.PROBLEM_STATUSES)
    monkeypatch.setattr(problems, "HTTPStatus", Python313Status)
    renamed = {c: s for c, s in http.PROBLEM_STATUSES.items() if s in newer}
    assert {414, 416} <= set(renamed.values())
    titles = {code: problems.catalogue(http.PROBLEM_STATUSES)[code]["title"] for code in renamed}
    assert titles == {code: kept[code]["title"] for code in renamed}
    assert titles["uri-too-long"] == "Request-URI Too Long"


def test_nginx_and_gunicorn_title_a_code_as_its_page_does():
    """One code, one title (RFC 9457 §3.1.3), whoever answers: nginx's problems (its own
    limits) and gunicorn's (a request it cannot read) are titled as the app's are, by the
    code's page (nginx said "Payload Too Large" where the page says "Request Entity Too
    Large")."""
    import json

    titles = {
        code: entry["title"] for code, entry in problems.catalogue(http.PROBLEM_STATUSES).items()
    }
    conf = (PACKAGE / "web/serving/nginx.conf").read_text(encoding="utf-8")
    bodies = [json.loads(body) for body in re.findall(r"return \d{3} '(\{.*\})';", conf)]
    assert {"payload-too-large", "uri-too-long"} <= {body["code"] for body in bodies}
    for body in bodies:
        assert body["title"] == titles[body["code"]], body
    for status, code in gunicorn._CODES.items():
        answer = gunicorn.problem_bytes(status, "Reason Of Its Own", "detail")
        body = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert (body["code"], body["title"]) == (code, titles[code])
