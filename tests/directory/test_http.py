"""HTTP behaviour: problem+json everywhere, CORS, ETag/Last-Modified and 304s."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client
from werkzeug.wrappers import Response


def test_unknown_route_is_problem_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "not-found"
    assert body["instance"] == "/api/v1/nothing-here"


def test_a_problems_instance_is_a_uri_reference(client):
    """``instance`` is a URI reference (RFC 9457 §3.1.5): a space or a non-ASCII letter in the
    path is percent-encoded, as the request sent it."""
    spaced = client.get("/api/v1/postcodes/M1%201AE").get_json()
    assert spaced["instance"] == "/api/v1/postcodes/M1%201AE"
    accented = client.get("/api/v1/postcodes/%C3%A9%25").get_json()
    assert accented["instance"] == "/api/v1/postcodes/%C3%A9%25"


def test_a_problems_instance_is_the_path_as_sent(client):
    """A ``/`` escaped in the path is kept in ``instance``: the decoded path
    (``/api/v1/services/abc/def``) is another address. The query is not part of it."""
    body = client.get("/api/v1/services/abc%2Fdef%3Fg%23h%25").get_json()
    assert body["code"] == "service-not-found" and "'abc/def?g#h%'" in body["detail"]
    assert body["instance"] == "/api/v1/services/abc%2Fdef%3Fg%23h%25"
    queried = client.get("/api/v1/services/abc%2Fdef?pages=2").get_json()
    assert queried["code"] == "unknown-parameter"
    assert queried["instance"] == "/api/v1/services/abc%2Fdef"


@pytest.mark.parametrize(
    ("path", "raw", "instance"),
    [
        # gunicorn's RAW_URI as the client sent it, an absolute form's path included
        ("/api/v1/services/abc%2Fdef", "/api/v1/services/abc%2Fdef?page=2",
         "/api/v1/services/abc%2Fdef"),
        ("/api/v1/services/abc%2Fdef", "http://localhost/api/v1/services/abc%2fdef?page=2",
         "/api/v1/services/abc%2fdef"),
        # what a URI may not hold bare, escaped: a space, é (its UTF-8 bytes as Latin-1, as
        # a WSGI string holds them), a "%" that starts no escape
        ("/api/v1/services/a%2Fb%20c%C3%A9%25", "/api/v1/services/a%2Fb c\xc3\xa9%",
         "/api/v1/services/a%2Fb%20c%C3%A9%25"),
        # a raw URI that is not the path routed (rewritten on its way), or none: the path
        ("/api/v1/services/abc%2Fdef", "/elsewhere/abc%2Fdef", "/api/v1/services/abc/def"),
        ("/api/v1/services/abc%2Fdef", "*", "/api/v1/services/abc/def"),
    ],
)  # fmt: skip
def test_a_problems_instance_reads_the_raw_uri_the_server_gives(geo_app, path, raw, instance):
    environ = {"RAW_URI": raw, "REQUEST_URI": raw}
    response = geo_app.test_client().get(path, environ_overrides=environ)
    assert response.get_json()["instance"] == instance


def test_a_problems_instance_without_a_raw_uri_is_the_path_escaped_again(geo_app):
    """A server that keeps no raw request URI: the decoded path, each segment escaped."""

    def without_raw_uri(environ, start_response):  # type: ignore[no-untyped-def]
        for key in ("RAW_URI", "REQUEST_URI"):
            del environ[key]
        return geo_app(environ, start_response)

    client = Client(without_raw_uri, Response)
    body = json.loads(client.get("/api/v1/postcodes/M1%201AE%25%C3%A9?x=1").get_data())
    assert body["instance"] == "/api/v1/postcodes/M1%201AE%25%C3%A9"
    body = json.loads(client.get("/api/v1/services/abc%2Fdef").get_data())
    assert body["instance"] == "/api/v1/services/abc/def"  # (the best it can say)


def test_a_list_parameters_errors_read_as_text(client):
    """An empty item of a repeated parameter: the detail names it theme[0], not a dict."""
    body = client.get("/api/v1/services?theme=").get_json()
    assert body["status"] == 422 and "theme[0]: " in body["detail"]
    assert "{" not in body["detail"]


def test_wrong_method_is_405_problem_with_allow(client):
    response = client.delete("/api/v1/postcodes/KT1 1EU")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "method-not-allowed"
    assert "GET" in response.headers["Allow"]


def test_validation_errors_are_keyed_by_field(client):
    body = client.get("/api/v1/areas?type=county").get_json()
    assert body["code"] == "invalid-input"
    assert "type" in body["errors"]


def test_reads_allow_any_origin(client):
    response = client.get("/api/v1/postcodes/KT1 1EU", headers={"Origin": "https://map.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]


#: the response headers a script on another origin may always read (Fetch: CORS-safelisted)
SAFELISTED = {
    "cache-control", "content-language", "content-length", "content-type", "expires",
    "last-modified", "pragma",
}  # fmt: skip
#: the headers an answer carries for the browser itself, not for a script to read (and
#: Date, which werkzeug puts on a 206 and the server on every answer)
FOR_THE_BROWSER = {
    "access-control-allow-origin", "access-control-expose-headers", "content-encoding",
    "content-security-policy", "vary", "x-content-type-options", "date",
}  # fmt: skip


def _exposed(response) -> set[str]:  # type: ignore[no-untyped-def]
    listed = response.headers["Access-Control-Expose-Headers"]
    return {name.strip().lower() for name in listed.split(",")}


def test_a_script_on_another_origin_may_read_every_header_documented(client):
    """Every response header the OpenAPI document declares (ranges, pages, a write's rate
    limit, when to retry, a CSV's total) is exposed, so a map on another origin reads it."""
    response = client.get("/api/v1/openapi.json", headers={"Origin": "https://map.example"})
    documented: set[str] = set()

    def walk(node):  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            if isinstance(node.get("headers"), dict):
                documented.update(name.lower() for name in node["headers"] if "-" in name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(response.get_json()["paths"])
    assert {"content-range", "ratelimit-remaining", "retry-after"} <= documented
    assert documented - SAFELISTED <= _exposed(response)


def test_a_script_on_another_origin_may_read_every_header_sent(client):
    """Whatever header an answer sends is exposed, or named here as the browser's own."""
    origin = {"Origin": "https://map.example"}
    for method, path, headers in (
        ("GET", "/api/v1/areas/E09000022", {}),
        ("GET", "/api/v1/areas/Kingston", {}),  # (Content-Location: its code's URL)
        ("GET", "/api/v1/areas/E09000022/boundary", {"Range": "bytes=0-9"}),
        ("GET", "/api/v1/services?format=csv", {"Accept-Encoding": "gzip"}),
        ("GET", "/api/v1/areas?type=ward&per_page=5", {}),
        ("GET", "/api/v1/nothing-here", {}),
        ("DELETE", "/api/v1/postcodes/KT1 1EU", {}),
        ("POST", "/api/v1/services", {}),
    ):
        response = client.open(path, method=method, headers={**origin, **headers})
        sent = {name.lower() for name, _ in response.headers}
        assert sent - SAFELISTED - FOR_THE_BROWSER <= _exposed(response), (method, path)


def test_a_preflight_offers_the_methods_the_route_answers(client):
    """Not every HTTP method: a DELETE on an area answers 405, so it is not offered."""
    origin = {"Origin": "https://map.example"}
    for path, method, allowed in (
        ("/api/v1/areas/E09000022", "GET", {"GET", "HEAD", "OPTIONS"}),
        ("/api/v1/postcodes/lookup", "POST", {"POST", "OPTIONS"}),
    ):
        preflight = client.options(
            path, headers={**origin, "Access-Control-Request-Method": method}
        )
        assert preflight.status_code == 200
        offered = {m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")}
        assert offered == allowed == {m.strip() for m in preflight.headers["Allow"].split(",")}
        for other in {"DELETE", "PATCH", "PUT"}:
            assert client.open(path, method=other).status_code == 405


@pytest.mark.parametrize("path", ["/nosuchroute", "/api/v1/nothing-here"])
def test_a_preflight_where_no_route_answers_offers_no_method(client, path):
    preflight = client.options(
        path, headers={"Origin": "https://x", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 404
    assert "Access-Control-Allow-Methods" not in preflight.headers


def test_every_answer_says_nosniff_and_forbids_framing(client):
    """JSON, GeoJSON, problems, the feed, CSV and the docs page: ``nosniff`` and a CSP
    with ``frame-ancestors 'none'``; data answers may run nothing (``default-src 'none'``)."""
    answers = {
        "/api/v1/areas/E09000022": "application/json",
        "/api/v1/areas/E09000022/boundary": "application/geo+json",
        "/api/v1/nothing-here": "application/problem+json",
        "/api/v1/changes.atom": "application/atom+xml",
        "/api/v1/services?format=csv": "text/csv",
        "/api/v1/openapi.json": "application/json",
        "/api/v1/docs": "text/html",
        "/": "text/html",
    }
    for path, mimetype in answers.items():
        response = client.get(path)
        assert response.mimetype == mimetype, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and policy.startswith("default-src 'none'")
        if mimetype != "text/html":
            assert policy == "default-src 'none'; frame-ancestors 'none'", path


def test_an_accept_header_that_takes_nothing_offered_is_406(client):
    """Not a silent 200 of another type: the problem names what is available. A +json type
    is taken by application/json; */* or no header takes anything; the probes answer any."""
    json, geojson, csv, html = "application/json", "application/geo+json", "text/csv", "text/html"
    for path, accept, available in (
        ("/api/v1/areas/E09000022", "application/xml", [json]),
        ("/api/v1/areas/E09000022", "text/html", [json]),
        ("/api/v1/organisations", "text/csv", [json]),
        # every representation a route offers is named (only the one it fell back to was)
        ("/api/v1/services", "application/xml", [json, geojson, csv]),
        ("/api/v1/patch?area=E09000022", "application/xml", [json, geojson, csv]),
        ("/api/v1/ogc/collections", "application/xml", [json, html]),
        ("/problems/not-found", "application/xml", [html, json]),
        # XML takes Atom unless the header refuses Atom itself
        (
            "/api/v1/changes.atom",
            "application/atom+xml;q=0, application/xml",
            ["application/atom+xml"],
        ),
    ):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 406, (path, accept)
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["code"] == "not-acceptable" and body["available"] == available, path
        assert ", ".join(available) in body["detail"]
    for path, accept, mimetype in (
        ("/api/v1/areas/E09000022/boundary", "application/json", "application/geo+json"),
        ("/api/v1/services", "text/csv", "text/csv"),
        ("/api/v1/grants", "text/csv", "text/csv"),
        ("/api/v1/services", "application/geo+json", "application/geo+json"),
        ("/api/v1/changes.atom", "application/atom+xml", "application/atom+xml"),
        # an Atom feed to a client asking for XML, as GeoJSON to one asking for JSON
        ("/api/v1/changes.atom", "application/xml", "application/atom+xml"),
        ("/api/v1/opportunities.atom", "text/xml", "application/atom+xml"),
        (
            "/api/v1/areas/E09000022",
            "text/html,application/xhtml+xml,*/*;q=0.8",
            "application/json",
        ),
        ("/ready", "text/html", "application/json"),
        ("/api/v1/areas/E09000022", "", "application/json"),
    ):
        response = client.get(path, headers={"Accept": accept} if accept else {})
        assert response.status_code == 200 and response.mimetype == mimetype, (path, accept)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/areas/E09000021/boundary",
        "/api/v1/ogc/collections/boroughs/items?limit=2",
        "/api/v1/ogc/collections/boroughs/items/E09000021",
    ],
)
@pytest.mark.parametrize(
    "accept",
    [
        "application/geo+json;q=0, application/json",
        "application/geo+json; Q=0.0, */*",
        "application/*;q=0, application/json",
    ],
)
def test_a_geojson_answer_the_accept_header_refuses_is_406(client, path, accept):
    """q=0 is "not acceptable" (RFC 9110 §12.4.2): application/json does not take GeoJSON
    the header refuses, by name or by a wildcard, nor does */* beside it."""
    response = client.get(path, headers={"Accept": accept})
    assert response.status_code == 406
    assert response.get_json()["available"] == ["application/geo+json"]


def test_an_accept_header_naming_utf_8_takes_what_it_names(client):
    """Every text the API sends is UTF-8: ``application/json;charset=UTF-8`` (as Java and
    .NET clients send it) takes our JSON, ``text/csv; charset=utf-8`` our CSV; another
    charset, or another parameter's value, is still compared (werkzeug alone refused any
    range with parameters: 406)."""
    for path, accept, mimetype in (
        ("/api/v1/services", "application/json;charset=UTF-8", "application/json"),
        ("/api/v1/areas/E09000021", "application/json; charset=utf-8", "application/json"),
        ("/api/v1/areas/E09000021/boundary", 'application/json; charset="utf-8"',
         "application/geo+json"),
        ("/api/v1/services", "text/csv; charset=utf-8", "text/csv"),
        ("/api/v1/services", "application/geo+json;charset=utf-8;q=0.9, application/json;q=0.5",
         "application/geo+json"),
        ("/api/v1/ogc/collections", "text/html; charset=UTF-8", "text/html"),
        ("/api/v1/ogc/collections/sites/items?limit=1", "application/geo+json;charset=utf-8",
         "application/geo+json"),
        ("/api/v1/openapi.json", "application/json;charset=utf-8", "application/json"),
    ):  # fmt: skip
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 200 and response.mimetype == mimetype, (path, accept)
    for path, accept in (
        ("/api/v1/services", "application/json; charset=iso-8859-1"),
        ("/api/v1/services", "text/csv;charset=utf-8;q=0"),
    ):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 406, (path, accept)


def test_a_format_in_the_query_overrides_the_accept_header(client):
    """``format`` (``f`` on the OGC API) is the client's explicit choice: a script sending
    ``Accept: application/json`` with every request gets the CSV it asks for by name (a
    406 before), and ``f=json`` the JSON of an OGC page a browser's header would make HTML."""
    for path, accept, mimetype in (
        ("/api/v1/services?format=csv", "application/json", "text/csv"),
        ("/api/v1/services?format=geojson", "text/csv", "application/geo+json"),
        ("/api/v1/ogc?f=json", "text/html", "application/json"),
        ("/api/v1/ogc?f=html", "application/json", "text/html"),
        ("/api/v1/ogc/collections/sites/items?f=json&limit=1", "text/html",
         "application/geo+json"),
    ):  # fmt: skip
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 200 and response.mimetype == mimetype, (path, accept)
    # without one, the header is still honoured
    assert client.get("/api/v1/services", headers={"Accept": "application/xml"}).status_code == 406


def test_a_list_refused_as_geojson_answers_as_json(client):
    accept = {"Accept": "application/geo+json;q=0, application/json"}
    response = client.get("/api/v1/services", headers=accept)
    assert response.status_code == 200 and response.mimetype == "application/json"


def test_etag_and_last_modified_give_304(client):
    first = client.get("/api/v1/areas/E09000021")
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get("/api/v1/areas/E09000021", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    since = client.get(
        "/api/v1/areas/E09000021", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status_code == 304
    other = client.get("/api/v1/areas/E09000020", headers={"If-None-Match": etag})
    assert other.status_code == 200


def test_an_answer_that_changes_without_the_data_has_no_last_modified(client):
    """Opportunities change status when one closes, at any time of day, with no new data
    version: their answer's ETag hashes the body and it has no Last-Modified, so an
    If-Modified-Since never keeps a stale copy; an answer of the data keeps both."""
    changing = client.get("/api/v1/opportunities")
    assert changing.status_code == 200 and "Last-Modified" not in changing.headers
    assert changing.headers["ETag"].strip('"') == hashlib.sha1(changing.data).hexdigest()
    recent = "Fri, 01 Jan 2100 00:00:00 GMT"  # after any change so far
    again = client.get("/api/v1/opportunities", headers={"If-Modified-Since": recent})
    assert again.status_code == 200 and again.data == changing.data
    unmodified = client.get("/api/v1/opportunities", headers={"If-Unmodified-Since": recent})
    assert unmodified.status_code == 200
    data = client.get("/api/v1/areas/E09000021")
    assert data.headers["Last-Modified"] and data.headers["ETag"].startswith('"v')
    assert (
        client.get("/api/v1/areas/E09000021", headers={"If-Modified-Since": recent}).status_code
        == 304
    )


def test_answers_are_gzipped_at_the_level_set_and_revalidate_either_way(geo_app):
    """DIRECTORY_GZIP_LEVEL reaches the compressor (the gzip header's XFL byte says
    fastest or smallest, RFC 1952 §2.3.1, and the smaller is smaller), both decompress to
    the answer sent plain, and a compressed answer still revalidates: If-None-Match with
    either ETag, and If-Modified-Since, give 304."""
    import gzip

    from directory import create_app

    path = "/api/v1/areas/E09000021/boundary"  # Kingston's outline: 28 KB of GeoJSON
    gz = {"Accept-Encoding": "gzip"}
    fast = geo_app.test_client()
    small_app = create_app(geo_app.extensions["directory"].settings.with_overrides(gzip_level=9))
    try:
        plain = fast.get(path)
        quick, small = fast.get(path, headers=gz), small_app.test_client().get(path, headers=gz)
    finally:
        small_app.extensions["directory"].db.dispose()
    assert geo_app.extensions["directory"].settings.gzip_level == 1  # the default
    for answer in (quick, small):
        assert answer.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(answer.data) == plain.data
    assert (quick.data[8], small.data[8]) == (4, 2)  # XFL: fastest, then maximum compression
    assert len(small.data) < len(quick.data) < len(plain.data) // 2
    for conditional in (
        {"If-None-Match": quick.headers["ETag"]},
        {"If-None-Match": plain.headers["ETag"]},
        {"If-Modified-Since": quick.headers["Last-Modified"]},
    ):
        again = fast.get(path, headers={**gz, **conditional})
        assert again.status_code == 304 and again.data == b"", conditional
    stale = fast.get(path, headers={**gz, "If-None-Match": '"v0-stale:gzip"'})
    assert stale.status_code == 200 and stale.data == quick.data


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, deflate, br, zstd", "zstd"),  # a browser's (Chrome's, Firefox's)
        ("gzip, deflate", "gzip"),  # GDAL's, and curl's and Python's built without zstd
        ("zstd;q=0.5, gzip", "gzip"),  # the client's preference first
        ("identity", None),
        # as RFC 9110 §12.5.3 reads them (flask-compress's own reading got each wrong)
        ("zstd;q=0", None),  # q=0: not acceptable
        ("gzip;q=0.4, zstd; q=0.5", "zstd"),  # a space before q
        ("*, zstd;q=0", "gzip"),  # a coding named is not "*"
        ("gzip;q=0.5, identity", None),  # plain preferred
        ("GZIP", "gzip"),  # codings are case-insensitive
        ("x-gzip", "gzip"),  # RFC 9110 §8.4.1.3
        ("gzip;q=abc, zstd;q=0.1", "zstd"),  # a quality that does not parse: left out
        ("*", "zstd"),
    ],
)
def test_a_client_gets_the_coding_it_takes_best(client, accept, coding):
    """zstd to the clients that take it, gzip to the rest; the answer decompresses to the
    one sent plain, revalidates with its own ETag, and its byte ranges are of the body as
    sent (what a client resuming a download joins up)."""
    import gzip

    from flask_compress.compat import compression  # its zstd: 3.14's, or the backport

    path = "/api/v1/areas/E09000021/boundary"
    plain = client.get(path)
    answer = client.get(path, headers={"Accept-Encoding": accept})
    assert answer.headers.get("Content-Encoding") == coding
    assert "Accept-Encoding" in answer.headers["Vary"]
    decompress = {"zstd": compression.zstd.decompress, "gzip": gzip.decompress, None: bytes}[coding]
    assert decompress(answer.data) == plain.data
    assert answer.headers["ETag"] == (
        plain.headers["ETag"][:-1] + f':{coding}"' if coding else plain.headers["ETag"]
    )
    headers = {"Accept-Encoding": accept}
    again = client.get(path, headers={**headers, "If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304
    part = client.get(path, headers={**headers, "Range": "bytes=10-109"})
    assert part.status_code == 206 and part.data == answer.data[10:110]
    assert client.get(path, headers=headers).data == answer.data  # the same bytes each time


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [("gzip, deflate, br, zstd", True), ("gzip;q=0, deflate", False), ("*", True), ("", False)],
)
def test_the_pages_files_are_gzipped_only_for_a_client_that_takes_gzip(client, accept, gzipped):
    """The page's files are kept gzipped and sent so to a client whose Accept-Encoding
    takes gzip, as RFC 9110 reads it (``gzip;q=0`` refuses it; ``*`` takes it)."""
    import gzip

    plain = client.get("/site/app.js")
    answer = client.get("/site/app.js", headers={"Accept-Encoding": accept})
    assert answer.status_code == 200
    assert (answer.headers.get("Content-Encoding") == "gzip") is gzipped
    assert (gzip.decompress(answer.data) if gzipped else answer.data) == plain.data
    # each body its own tag (a range names one of them); either revalidates, with this one's
    tag = answer.headers["ETag"]
    assert (tag == plain.headers["ETag"][:-1] + ':gzip"') is gzipped or tag == plain.headers["ETag"]
    headers = {"Accept-Encoding": accept}
    for held in {tag, plain.headers["ETag"]}:
        again = client.get("/site/app.js", headers={**headers, "If-None-Match": held})
        assert again.status_code == 304 and again.headers["ETag"] == tag
    part = client.get("/site/app.js", headers={**headers, "Range": "bytes=0-9", "If-Range": tag})
    assert part.status_code == 206 and part.data == answer.data[:10]
    other = '"x"' if not gzipped else plain.headers["ETag"]
    whole = client.get("/site/app.js", headers={**headers, "Range": "bytes=0-9", "If-Range": other})
    assert whole.status_code == 200 and whole.data == answer.data


#: a browser's Accept-Encoding, GDAL's, and none (each gets its own coding of an answer)
CODINGS = {"gzip, deflate, br, zstd": "zstd", "gzip, deflate": "gzip", "identity": None}
#: Kingston's outline: 28 KB of GeoJSON, compressed for whoever takes it
BIG = "/api/v1/areas/E09000021/boundary"


@pytest.mark.parametrize("accept", list(CODINGS))
def test_if_match_on_a_read_compares_the_tag_the_request_gets(client, accept):
    """If-Match on a read (RFC 9110 §13.1.1) compares strongly with the ETag of the answer
    as this request gets it, its coding's suffix included: the tag the client was sent
    passes (and with Range gives the part), any other, a weak one or a stale one is a 412
    problem naming the current tag, judged before If-None-Match and Range; ``*`` passes.
    If-Unmodified-Since is judged when If-Match is not sent."""
    from datetime import timedelta

    from werkzeug.http import http_date, parse_date

    headers = {"Accept-Encoding": accept}
    answer = client.get(BIG, headers=headers)
    tag = answer.headers["ETag"]
    assert answer.headers.get("Content-Encoding") == CODINGS[accept]
    base = tag.split(":", 1)[0].rstrip('"') + '"'
    others = [f'{base[:-1]}:{c}"' for c in ("zstd", "gzip") if c != CODINGS[accept]]
    others += [base] if CODINGS[accept] else []

    def get(more, method="GET"):
        return client.open(BIG, method=method, headers={**headers, **more})

    for sent in (tag, "*", f'"v0-stale", {tag}'):
        passed = get({"If-Match": sent})
        assert passed.status_code == 200 and passed.data == answer.data, sent
    part = get({"If-Match": tag, "Range": "bytes=10-109"})
    assert part.status_code == 206 and part.data == answer.data[10:110]
    both = get({"If-Match": tag, "If-None-Match": tag})
    assert both.status_code == 304 and both.headers["ETag"] == tag and both.data == b""
    for sent in [*others, f"W/{tag}", '"v0-stale"', '""']:
        for more in ({}, {"Range": "bytes=10-109"}, {"If-None-Match": tag}):
            failed = get({"If-Match": sent, **more})
            assert failed.status_code == 412, (sent, more)
            assert failed.mimetype == "application/problem+json"
            body = failed.get_json()
            assert (body["code"], body["current_etag"]) == ("precondition-failed", tag)
            assert failed.headers["ETag"] == tag
            assert "Accept-Encoding" in failed.headers["Vary"]
            assert failed.headers["Cache-Control"] == "no-store"
        head = get({"If-Match": sent}, "HEAD")
        assert head.status_code == 412 and head.data == b""
    modified = parse_date(answer.headers["Last-Modified"])
    for since, status in (
        (answer.headers["Last-Modified"], 200),
        (http_date(modified + timedelta(days=1)), 200),
        (http_date(modified - timedelta(seconds=1)), 412),
        ("not a date", 200),  # a date that does not parse is ignored (RFC 9110 §13.1.4)
    ):
        assert get({"If-Unmodified-Since": since}).status_code == status, since
        # with If-Match, If-Unmodified-Since is not looked at
        assert get({"If-Match": tag, "If-Unmodified-Since": since}).status_code == 200
    since = get({"If-Match": tag, "If-Modified-Since": answer.headers["Last-Modified"]})
    assert since.status_code == 304 and since.headers["ETag"] == tag
    # If-Range (compared strongly, RFC 9110 §13.1.5) decides between the part and the whole
    # answer on its own, whatever If-Match passed
    earlier = http_date(modified - timedelta(seconds=1))
    for sent in (tag, "*"):
        for if_range, status in (
            (tag, 206), (answer.headers["Last-Modified"], 206), ('"v0-stale"', 200),
            (f"W/{tag}", 200), (earlier, 200),
        ):  # fmt: skip
            ranged = get({"If-Match": sent, "Range": "bytes=10-109", "If-Range": if_range})
            assert ranged.status_code == status, (sent, if_range)
            assert ranged.data == (answer.data[10:110] if status == 206 else answer.data)


@pytest.mark.parametrize("accept", list(CODINGS))
def test_if_range_gives_the_part_only_of_the_answer_named_exactly(client, accept):
    """If-Range (RFC 9110 §13.1.5) with a Range: the part when it is the answer's ETag as
    this request gets it, or exactly its Last-Modified; the whole answer for anything else
    (another coding's tag, a weak, unquoted or stale tag, a later or earlier date, what
    does not parse), whatever If-None-Match (not matching) or If-Modified-Since (older)
    say beside it."""
    from datetime import timedelta

    from werkzeug.http import http_date, parse_date

    headers = {"Accept-Encoding": accept, "Range": "bytes=10-109"}
    answer = client.get(BIG, headers={"Accept-Encoding": accept})
    tag, last = answer.headers["ETag"], answer.headers["Last-Modified"]
    base = tag.split(":", 1)[0].rstrip('"') + '"'
    modified = parse_date(last)
    whole = [
        '"v0-stale"', f"W/{tag}", f"w/{tag}", tag.strip('"'), "not a date",
        http_date(modified + timedelta(days=1)), http_date(modified - timedelta(seconds=1)),
        *([base] if base != tag else [f'{base[:-1]}:gzip"']),
    ]  # fmt: skip
    beside = [
        {},
        {"If-None-Match": '"v0-stale"'},
        {"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"},
    ]
    for more in beside:
        for if_range in (tag, last):
            part = client.get(BIG, headers={**headers, **more, "If-Range": if_range})
            assert part.status_code == 206, (if_range, more)
            assert part.data == answer.data[10:110]
        for if_range in whole:
            full = client.get(BIG, headers={**headers, **more, "If-Range": if_range})
            assert full.status_code == 200 and full.data == answer.data, (if_range, more)


def test_the_probes_answer_whatever_precondition_is_sent(client):
    """/health and /ready have no ETag to compare: If-Match is not a reason to fail them."""
    for path in ("/health", "/ready"):
        answer = client.get(path, headers={"If-Match": '"v0-stale"'})
        assert answer.status_code == 200, path


def test_the_probes_answer_a_range_whole(client):
    """A probe is never partial: a Range gets the whole answer, and no Accept-Ranges
    offers one (the document names no 206 for them)."""
    for path in ("/health", "/ready"):
        whole = client.get(path)
        answer = client.get(path, headers={"Range": "bytes=0-3"})
        assert answer.status_code == 200 and answer.data == whole.data, path
        assert "Accept-Ranges" not in answer.headers, path


@pytest.mark.parametrize("held", list(CODINGS))
@pytest.mark.parametrize("accept", list(CODINGS))
def test_a_304_names_the_coding_the_request_gets(client, accept, held):
    """A client revalidating with the tag of any coding of the answer gets a 304 whose ETag
    is the one a 200 to this request would carry (its coding's), not the tag it sent: a
    cache holding several codings is never told to use one the client cannot decode. An
    answer too small to compress keeps its one tag."""
    fresh = client.get(BIG, headers={"Accept-Encoding": accept})
    held_tag = client.get(BIG, headers={"Accept-Encoding": held}).headers["ETag"]
    again = client.get(BIG, headers={"Accept-Encoding": accept, "If-None-Match": held_tag})
    assert again.status_code == 304
    assert again.headers["ETag"] == fresh.headers["ETag"]
    since = {"Accept-Encoding": accept, "If-Modified-Since": fresh.headers["Last-Modified"]}
    for more in ({}, {"Range": "bytes=10-109"}):
        by_date = client.get(BIG, headers={**since, **more})
        assert by_date.status_code == 304 and by_date.headers["ETag"] == fresh.headers["ETag"]
    small = client.get("/api/v1/postcodes/KT1%201EU", headers={"Accept-Encoding": accept})
    assert small.status_code == 200 and "Content-Encoding" not in small.headers
    revalidated = client.get(
        "/api/v1/postcodes/KT1%201EU",
        headers={"Accept-Encoding": accept, "If-None-Match": small.headers["ETag"]},
    )
    assert revalidated.status_code == 304
    assert revalidated.headers["ETag"] == small.headers["ETag"]


@pytest.mark.parametrize(
    "accept",
    [
        "zstd;q=nan", "gzip;q=1e309", "zstd;q=", ";;;,,,", "zstd\x00", "\u00e9", "x" * 8000,
        ",".join(["gzip"] * 1000), "br", "compress", "*",
    ],
)  # fmt: skip
def test_any_accept_encoding_gets_an_answer_it_can_decode(client, accept):
    """Malformed, huge or unknown codings are never an error: the answer comes in a coding
    the header names (or plain), and decodes to the plain answer."""
    import gzip

    from flask_compress.compat import compression

    path = "/api/v1/areas/E09000021/boundary"
    plain = client.get(path)
    answer = client.get(path, headers={"Accept-Encoding": accept})
    assert answer.status_code == 200
    coding = answer.headers.get("Content-Encoding")
    assert coding in (None, "gzip", "zstd") and (
        coding is None or coding in accept or accept == "*"
    )
    decode = {"zstd": compression.zstd.decompress, "gzip": gzip.decompress, None: bytes}[coding]
    assert decode(answer.data) == plain.data


def test_today_is_londons_day(client, monkeypatch):
    """Grant statuses and every "today" follow London's calendar: at 23:30 UTC on 1 July
    it is 2 July in London (until 6 December the UTC date was taken, so from midnight to
    1 am in summer a grant starting that day was still planned); in winter the two agree."""
    from datetime import UTC, date, datetime

    from directory.web import state as web_state

    class Clock(datetime):
        moment = datetime(2031, 7, 1, 23, 30, tzinfo=UTC)

        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return cls.moment.astimezone(tz)

    monkeypatch.setattr(web_state, "datetime", Clock)
    assert web_state.today() == date(2031, 7, 2)
    assert client.get("/api/v1/funding/summary?by=programme").json["today"] == "2031-07-02"
    Clock.moment = datetime(2031, 12, 1, 23, 30, tzinfo=UTC)
    assert web_state.today() == date(2031, 12, 1)
    assert client.get("/api/v1/funding/summary?by=programme").json["today"] == "2031-12-01"


def test_answers_turn_over_at_utc_and_at_london_midnight(client, monkeypatch):
    """Grant statuses and an opportunity's days left follow London's day, which in summer
    begins at 23:00 UTC: the ETag and Last-Modified turn over then, and again at UTC
    midnight (the ETag still names both days), once a day in winter, when they are one."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from werkzeug.http import http_date

    from directory.web import http as web_http

    def at(moment: str):
        seconds = datetime.fromisoformat(moment).timestamp()  # after the data's load
        monkeypatch.setattr(web_http, "time", SimpleNamespace(time=lambda: seconds))
        return client.get("/api/v1/areas/E09000021").headers

    def stamp(*parts: int) -> str:
        return http_date(datetime(*parts, tzinfo=UTC))

    # summer: London's 2 July begins at 23:00 UTC on the 1st, UTC's an hour later
    evening, late = at("2031-07-01T22:10+00:00"), at("2031-07-01T22:59+00:00")
    london, utc = at("2031-07-01T23:00+00:00"), at("2031-07-02T00:00+00:00")
    assert evening["ETag"] == late["ETag"] != london["ETag"] != utc["ETag"] != evening["ETag"]
    assert evening["Last-Modified"] == stamp(2031, 7, 1)
    assert london["Last-Modified"] == stamp(2031, 7, 1, 23)
    assert utc["Last-Modified"] == stamp(2031, 7, 2)
    assert at("2031-07-01T23:30+00:00")["ETag"] == london["ETag"]
    monkeypatch.setattr(web_http, "time", SimpleNamespace(time=lambda: 1_940_713_200.0))
    since = client.get(
        "/api/v1/areas/E09000021", headers={"If-Modified-Since": evening["Last-Modified"]}
    )
    assert since.status_code == 200  # 23:00 UTC on 1 July 2031: London's new day
    # winter: one midnight
    winter = [at(f"2031-12-01T{t}+00:00") for t in ("22:10", "23:00", "23:59")]
    assert len({h["ETag"] for h in winter}) == 1
    assert {h["Last-Modified"] for h in winter} == {stamp(2031, 12, 1)}
    assert at("2031-12-02T00:00+00:00")["ETag"] != winter[0]["ETag"]


def test_if_none_match_compares_weakly_and_ignores_empty_tags(client):
    etag = client.get("/api/v1/areas/E09000021").headers["ETag"]
    weak = client.get("/api/v1/areas/E09000021", headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304  # RFC 9110 13.1.2: If-None-Match uses weak comparison
    for sent in ('""', '"", W/""', f'"", {etag}', "W/"):
        response = client.get("/api/v1/areas/E09000021", headers={"If-None-Match": sent})
        assert response.status_code == (304 if etag in sent else 200), sent


def test_errors_are_not_cached_as_successes(client):
    response = client.get("/api/v1/postcodes/M1 1AE")
    assert "ETag" not in response.headers


def test_health_and_ready(client):
    assert client.get("/health").get_json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["areas"]["borough"] == 33
    assert body["postcodes"]["live"] == 180_792
    assert body["data_release"]["label"]
    assert "no-store" in ready.headers["Cache-Control"]


def test_ready_counts_the_postcodes_once_not_at_every_probe(geo_app, client):
    """Counting London's 188,000 postcodes took 40-90 ms of every probe on PostgreSQL;
    a probe still asks the database (the areas, hundreds of rows)."""
    from sqlalchemy import event

    statements: list[str] = []

    def seen(_connection, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement.lower())

    engine = geo_app.extensions["directory"].db.engine
    first = client.get("/ready")
    event.listen(engine, "before_cursor_execute", seen)
    try:
        again = client.get("/ready")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert again.get_json()["postcodes"]["live"] == 180_792
    assert statements and not any("postcode" in statement for statement in statements)
    assert any("from area" in statement for statement in statements)


def test_ready_is_503_before_init(empty_settings):
    from directory import create_app

    app = create_app(empty_settings)
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    # the code every read answers before `directory init`, and when to ask again
    assert response.get_json()["code"] == "database-not-initialised"
    assert response.headers["Retry-After"] == "30"


def test_geography_endpoints_before_load_are_503_not_500(empty_settings):
    from directory import create_app

    app = create_app(empty_settings)
    app.extensions["directory"].db.migrate()
    response = app.test_client().get("/api/v1/postcodes/KT1 1EU")
    assert response.status_code == 503
    assert response.get_json()["code"] == "geodata-not-loaded"


def test_reads_before_migrations_are_503_naming_the_fix(empty_settings):
    from directory import create_app

    app = create_app(empty_settings)  # no `directory init`: not even the tables
    client = app.test_client()
    for path in (
        "/api/v1/postcodes/KT1 1EU",
        "/api/v1/patch?postcode=KT1 1EU",
        "/api/v1/services",
        "/api/v1/areas?type=borough",
    ):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["code"] == "database-not-initialised"
        assert "directory init" in body["detail"]
        assert response.headers["Cache-Control"] == "no-store"  # no cache keeps an outage


def test_unexpected_errors_are_500_problem_without_trace(empty_settings):
    from directory import create_app

    app = create_app(empty_settings)

    @app.get("/boom")
    def boom():  # pragma: no cover - the route exists only to fail
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "secret" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/api/v1/postcodes/SW1A 9ZZ", "/api/v1/areas/E09999999", "/api/v1/no-such-route"]
)
def test_a_reads_404_is_kept_as_long_as_its_200s(client, path):
    """A "not here" on a read lasts as the data does: the 200s' Cache-Control, and Vary
    as they have it, not a CDN's own default for a 404 (an hour, at some)."""
    found = client.get("/api/v1/postcodes/KT1 1EU")
    response = client.get(path)
    assert response.status_code == 404, response.get_json()
    assert response.headers["Cache-Control"] == found.headers["Cache-Control"]
    assert "max-age=" in response.headers["Cache-Control"]
    assert "Accept" in response.headers["Vary"]


def test_openapi_and_docs_are_served(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/postcodes/{postcode}" in spec.get_json()["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"/swagger-ui/" in docs.data
    with client.get("/swagger-ui/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200


def test_the_api_definition_is_served_in_the_type_the_ogc_landing_page_names(client):
    """OGC API – Features /req/oas30/oas-definition-1: the document in the OpenAPI media
    type when asked for it, in application/json otherwise; either way it varies by Accept."""
    links = {link["rel"]: link for link in client.get("/api/v1/ogc").get_json()["links"]}
    definition = links["service-desc"]
    path = urlsplit(definition["href"]).path
    for accept in (definition["type"], "application/vnd.oai.openapi+json"):
        asked = client.get(path, headers={"Accept": accept})
        assert asked.status_code == 200, accept
        assert asked.headers["Content-Type"] == definition["type"]
        assert asked.get_json()["openapi"].startswith("3.0")
        assert "Accept" in asked.headers["Vary"]
    for accept in ("application/json", "*/*", ""):
        plain = client.get(path, headers={"Accept": accept} if accept else {})
        assert plain.status_code == 200 and plain.mimetype == "application/json", accept
    # two representations, two strong tags (one was sent for both); each revalidates
    tagged = client.get(path, headers={"Accept": definition["type"]})
    assert tagged.headers["ETag"] != plain.headers["ETag"]
    again = client.get(
        path, headers={"Accept": definition["type"], "If-None-Match": tagged.headers["ETag"]}
    )
    assert again.status_code == 304 and again.headers["ETag"] == tagged.headers["ETag"]
    assert (
        client.get(path, headers={"Accept": "application/vnd.oai.openapi+json;version=3.1"})
    ).status_code == 406


def test_the_docs_page_allows_its_own_inline_script_by_hash_and_no_other(client):
    """script-src names the SHA-256 of the page's one inline script, not 'unsafe-inline': an
    injected inline script would not run (tests/browser runs the page under it)."""
    import base64
    import re

    docs = client.get("/api/v1/docs", headers={"Accept-Encoding": "gzip"})
    script_src = next(
        d for d in docs.headers["Content-Security-Policy"].split("; ") if d.startswith("script-src")
    )
    assert "'unsafe-inline'" not in script_src
    (inline,) = re.findall(rb"<script>(.*?)</script>", client.get("/api/v1/docs").data, re.S)
    digest = base64.b64encode(hashlib.sha256(inline).digest()).decode()
    assert script_src == f"script-src 'self' 'sha256-{digest}'"


def test_query_arguments_keep_webargs_semantics():
    """directory.web.api loads query strings itself: repeated values, defaults, messages
    under "query", and a schema whose pre_load fills in fields; unlike webargs, it refuses
    an unknown parameter (400 unknown-parameter, issue 13), and so a parameter a pre_load
    reads is declared as a field."""
    import marshmallow as ma
    from flask import Flask

    from directory.web import http, logs
    from directory.web.api import Api, Blueprint

    class Args(ma.Schema):
        theme = ma.fields.List(ma.fields.String())
        page = ma.fields.Integer(load_default=1)
        q = ma.fields.String(validate=ma.validate.Length(min=1))

    class Near(ma.Schema):
        lat = ma.fields.Float()
        lon = ma.fields.Float()
        near = ma.fields.String(load_only=True)

        @ma.pre_load
        def split_near(self, data, **kwargs):  # type: ignore[no-untyped-def]
            if "near" in data:
                lat, lon = data.pop("near").split(",")
                data = {**data, "lat": lat, "lon": lon}
            return data

    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("t", __name__)

    # documented, as every response the tests receive is held to the app's OpenAPI document
    @blp.route("/args")
    @blp.arguments(Args, location="query")
    @blp.response(200, Args)
    def args(parsed):  # type: ignore[no-untyped-def]
        return parsed

    @blp.route("/near")
    @blp.arguments(Near, location="query")
    @blp.response(200, Near)
    def near(parsed):  # type: ignore[no-untyped-def]
        return parsed

    api.register_blueprint(blp)
    http.register(app, max_age=60)  # renders the problems the app's own errors carry
    logs.register(app)  # every answer's X-Request-Id
    client = app.test_client()
    assert client.get("/args?theme=a&theme=b&q=x&q=y").get_json() == {
        "theme": ["a", "b"], "q": "x", "page": 1,
    }  # fmt: skip
    unknown = client.get("/args?theme=a&other=1&q=&Page=2")
    assert unknown.status_code == 400
    assert unknown.get_json()["code"] == "unknown-parameter"
    assert set(unknown.get_json()["errors"]) == {"other", "Page"}
    assert client.get("/near?near=51.5,-0.1&far=1").status_code == 400
    bad = client.get("/args?q=&page=two")
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"q", "page"}
    assert client.get("/near?near=51.5,-0.1").get_json() == {"lat": 51.5, "lon": -0.1}


def _query_loaders(app):  # type: ignore[no-untyped-def]
    return {
        name: view.query_arguments
        for name, view in app.view_functions.items()
        if hasattr(view, "query_arguments")
    }


def _query_values(field) -> st.SearchStrategy[str]:  # type: ignore[no-untyped-def]
    """Text a query parameter might carry: the field's own choices, numbers in and out of
    range, dates, booleans and junk."""
    choices = [
        str(choice)
        for validator in getattr(field, "validators", [])
        for choice in getattr(validator, "choices", [])
    ]
    common = ["", "0", "1", "-3", "25", "1000001", "51.5", "-0.12", "1e309", "nan", "x",
              "2026-11-26", "2026-02-30", "2026-11-26T10:00:00", "true", "no", "a" * 300]  # fmt: skip
    return st.sampled_from(choices + common) | st.text(max_size=12)


def test_lean_query_loading_matches_marshmallow(empty_settings):
    """directory.web.api loads a hook-free query schema field by field instead of through
    Schema.load: for every query schema of the app, on generated parameters (known, unknown,
    repeated, valid and not), the values or the messages must be those of Schema.load; a
    parameter the schema does not declare is refused, naming it (issue 13), before any
    value is looked at."""
    import marshmallow as ma
    from werkzeug.datastructures import MultiDict
    from werkzeug.exceptions import HTTPException

    from directory import create_app
    from directory.errors import UnknownParameterError

    app = create_app(empty_settings)
    loaders = _query_loaders(app)
    lean = {name: loader for name, loader in loaders.items() if loader.lean}
    assert "patch.get_patch" in lean and "services.list_services" in lean, sorted(loaders)

    @st.composite
    def queries(draw, loader):  # type: ignore[no-untyped-def]
        keys = draw(st.lists(st.sampled_from([*loader.fields, "unknown"]), max_size=6))
        pairs = []
        for key in keys:
            field = loader.fields.get(key)
            inner = getattr(field, "inner", field)
            values = _query_values(inner) if field is not None else st.text(max_size=5)
            pairs.extend((key, v) for v in draw(st.lists(values, min_size=1, max_size=2)))
        return MultiDict(pairs)

    @settings(max_examples=60, deadline=None)
    @given(data=st.data())
    def check(data):  # type: ignore[no-untyped-def]
        for name, loader in sorted(lean.items()):
            args = data.draw(queries(loader), label=name)
            sent = {k: args.getlist(k) if k in loader.repeatable else args[k] for k in args}
            declared = {f.data_key or n for n, f in loader.schema.load_fields.items()}
            unknown = set(args) - declared
            repeated = {
                key: [f"{key} takes one value; it was given {len(values)}: {', '.join(values)}."]
                for key, values in args.lists()
                if len(values) > 1 and key not in loader.repeatable
            }
            if unknown:
                expected = ("unknown", unknown)
            elif loader.one_value_each and repeated:  # (the OGC operations: a 400 naming it)
                expected = ("invalid", repeated)
            else:
                try:
                    expected = ("ok", loader.schema.load(sent, unknown=ma.RAISE))
                except ma.ValidationError as error:
                    expected = ("invalid", error.messages)
            with app.test_request_context():
                try:
                    got = ("ok", loader.load(args))
                except HTTPException as error:
                    got = ("invalid", error.data["messages"]["query"])  # type: ignore[attr-defined]
                except UnknownParameterError as error:
                    got = ("unknown", set(error.extensions["errors"]))
            assert got == expected, (name, args)

    check()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"postcodes": ["KT1 1EU", NaN]}', "NaN is not valid JSON"),
        (b'{"postcodes": [1e999]}', "1e999 is out of range"),
        (b'{"postcodes": [' + b"9" * 5000 + b"]}", "a number in it has more than 4,300 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "it is nested too deeply"),
        (b'{"postcodes": ["KT1 1EU" "SW1A 1AA"]}', "Expecting ',' delimiter at line 1, column 26"),
    ],
)
def test_a_body_that_is_not_json_says_why_in_words(client, body, words):
    """The 400 says what is wrong with the body, not Python's class name ("ValueError",
    "RecursionError") or its advice (``sys.set_int_max_str_digits``)."""
    response = client.post("/api/v1/postcodes/lookup", data=body, content_type="application/json")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert detail == f"The body is not valid JSON: {words}.", detail


#: a trailing slash on a path whose route has none, and where it is sent on to
SLASHED = [
    ("/api/v1/services/", "/api/v1/services"),
    ("/api/v1/services/rescue-and-response/", "/api/v1/services/rescue-and-response"),
    (
        "/api/v1/services/rescue-and-response/history/",
        "/api/v1/services/rescue-and-response/history",
    ),
    ("/api/v1/postcodes/KT1%201EU/", "/api/v1/postcodes/KT1%201EU"),
    ("/api/v1/areas/E09000021//", "/api/v1/areas/E09000021"),
    ("/api/v1/ogc/collections/", "/api/v1/ogc/collections"),
    ("/api/v1/ogc/collections/services/items/", "/api/v1/ogc/collections/services/items"),
    ("/api/v1/hsds/services/", "/api/v1/hsds/services"),
    ("/health/", "/health"),
]


@pytest.mark.parametrize(("slashed", "route"), SLASHED)
def test_a_trailing_slash_is_sent_on_to_the_route_without_it(shared_demo_app, slashed, route):
    """A 308 Permanent Redirect to the route's own address (a client joining paths with a
    slash was told the collection does not exist); it answers as the route does."""
    client = shared_demo_app.test_client()
    for method in ("GET", "HEAD"):
        response = client.open(slashed, method=method)
        assert response.status_code == 308, (method, slashed)
        assert response.headers["Location"] == f"http://localhost{route}"
    followed = client.get(slashed, follow_redirects=True)
    assert followed.status_code == client.get(route).status_code == 200
    assert followed.data == client.get(route).data


def test_a_redirect_keeps_the_query_string_as_sent(shared_demo_app):
    """An escaped space and a repeated parameter reach the route as they were sent."""
    client = shared_demo_app.test_client()
    query = "q=knife%20crime&theme=violence-knife-crime&theme=youth-diversion&per_page=2"
    response = client.get(f"/api/v1/services/?{query}")
    assert response.status_code == 308
    assert response.headers["Location"] == f"http://localhost/api/v1/services?{query}"
    followed = client.get(f"/api/v1/services/?{query}", follow_redirects=True)
    assert followed.get_json() == client.get(f"/api/v1/services?{query}").get_json()


@pytest.mark.parametrize(
    ("slashed", "route"),
    [
        ("/api/v1/services/a%2Fb%20%231%3Fx%25/", "/api/v1/services/a%2Fb%20%231%3Fx%25"),
        ("/api/v1/services/a%2Fb%2F", "/api/v1/services/a%2Fb"),
        ("/api/v1/services/a%2Fb%2F/%2F", "/api/v1/services/a%2Fb"),
        ("/api/v1/opportunities/vru%2F2027/history/", "/api/v1/opportunities/vru%2F2027/history"),
    ],
)
def test_a_redirect_names_a_refs_escaped_characters_as_sent(shared_demo_app, slashed, route):
    """A ref's ``%2F`` (and ``%23``, ``%3F``, ``%25``) is kept in the Location: the
    decoded path is another address; an escaped trailing slash is a trailing slash."""
    response = shared_demo_app.test_client().get(slashed)
    assert response.status_code == 308
    assert response.headers["Location"] == f"http://localhost{route}"


def test_a_write_is_sent_on_as_a_write_and_a_browser_may_follow(shared_demo_app):
    """308 keeps the method and body; the redirect, like any answer, allows any origin and
    exposes its Location; a CORS preflight at the slashed path is answered as the route's
    own (a browser fails a preflight that is redirected, and would never send the write)."""
    client = shared_demo_app.test_client()
    origin = {"Origin": "https://map.example"}
    response = client.post("/api/v1/services/", json={"name": "x"}, headers=origin)
    assert response.status_code == 308  # before any key is asked for: the route decides
    assert response.headers["Location"] == "http://localhost/api/v1/services"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "location" in _exposed(response)
    preflight = client.options(
        "/api/v1/services/", headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    offered = {m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")}
    assert offered == {"GET", "HEAD", "OPTIONS", "POST"}


def test_a_slashed_path_whose_route_takes_another_method_is_its_405(shared_demo_app):
    response = shared_demo_app.test_client().post("/api/v1/services/rescue-and-response/")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "PATCH"}


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here/", "/api/v1/themes/knife/", "/nosuchroute/"]
)
def test_a_slashed_path_no_route_takes_is_the_404_problem(shared_demo_app, path):
    response = shared_demo_app.test_client().get(path)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "not-found"


@pytest.mark.parametrize("root", ["/api/v1", "/api/v1/ogc", "/api/v1/hsds"])
def test_the_roots_answer_with_a_slash_and_without(shared_demo_app, root):
    """The entry points answer at both addresses: the HSDS and OGC API standards name the
    root ``/``, which a client joins to the base URL it was given (``…/hsds`` + ``/``)."""
    client = shared_demo_app.test_client()
    assert client.get(root).status_code == client.get(root + "/").status_code == 200
