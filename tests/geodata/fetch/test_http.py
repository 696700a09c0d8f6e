"""geodata.fetch.http.Client against the local server: mirror, JSON, downloads, failures."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest

from geodata.errors import DataFileError, FetchError
from geodata.fetch import Client
from tests.conftest import files_limited_to
from tests.geodata.fetch.conftest import leftovers
from tests.geodata.fetch.server import Reply, json_reply, redirect, sequence

API = "https://api.example.org/v1/thing"
FILE = "https://files.example.org/data/archive.zip"


def a_zip(size: int = 200_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("Data/values.csv", bytes(range(256)) * (size // 256))
    return buffer.getvalue()


# -- the mirror ---------------------------------------------------------------------------
def test_mirror_rewrites_absolute_urls_under_the_base_url():
    client = Client(base_url="http://127.0.0.1:8123/")
    try:
        assert (
            client.mirror("https://api.os.uk/downloads/v1/products/CodePointOpen")
            == "http://127.0.0.1:8123/api.os.uk/downloads/v1/products/CodePointOpen"
        )
        assert (
            client.mirror("https://h.example:8443/a/b?x=1&y=2")
            == "http://127.0.0.1:8123/h.example:8443/a/b?x=1&y=2"
        )
        already = "http://127.0.0.1:8123/api.os.uk/x"
        assert client.mirror(already) == already
        assert client.mirror("/relative/path") == "/relative/path"
        assert client.official(already) == "https://api.os.uk/x"
        assert client.official("https://api.os.uk/x") == "https://api.os.uk/x"
    finally:
        client.close()


def test_without_a_mirror_urls_are_fetched_as_given():
    with Client() as client:
        assert client.mirror(API) == API
        assert client.official(API) == API


def test_fetch_error_is_a_data_file_error_naming_the_url(client, server):
    server.route(API, Reply(b"gone", status=404, content_type="text/plain"))
    with pytest.raises(DataFileError) as info:
        client.get_json(API)
    assert isinstance(info.value, FetchError)
    assert "/api.example.org/v1/thing" in str(info.value)
    assert "404" in str(info.value)
    assert info.value.status == 404


# -- JSON and text --------------------------------------------------------------------------
def test_get_json_decodes_and_passes_params(client, server):
    server.route(API, lambda request: {"got": request.param("q")})
    assert client.get_json(API, params={"q": 'title:"A B"'}) == {"got": 'title:"A B"'}


def test_get_json_follows_a_redirect_to_an_official_url_through_the_mirror(client, server):
    server.route(API, redirect("https://api.example.org/v2/thing", status=307))
    server.route("https://api.example.org/v2/thing", {"version": 2})
    assert client.get_json(API) == {"version": 2}
    assert len(server.requests_to("https://api.example.org/v2/thing")) == 1


def test_an_arcgis_error_with_http_200_is_a_fetch_error(client, server):
    server.route(
        API,
        json_reply(
            {
                "error": {
                    "code": 400,
                    "message": "Invalid query parameters",
                    "details": ["'where' bad"],
                }
            }
        ),
    )
    with pytest.raises(FetchError, match=r"ArcGIS error: code 400, Invalid query parameters"):
        client.get_json(API)


def test_an_html_page_with_http_200_is_not_json(client, server):
    page = b"<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>"
    server.route(API, Reply(page, content_type="text/html; charset=utf-8"))
    with pytest.raises(FetchError, match="web page"):
        client.get_json(API)
    server.route(API, Reply(page, content_type="application/json"))  # lying Content-Type
    with pytest.raises(FetchError, match="web page"):
        client.get_json(API)


def test_invalid_json_is_a_fetch_error(client, server):
    server.route(API, Reply(b'{"truncated": ', content_type="application/json"))
    with pytest.raises(FetchError, match="did not answer valid JSON"):
        client.get_json(API)


def test_get_text_decodes_utf8_with_bom(client, server):
    server.route(API, Reply("\ufeffA,B\r\n1,é\r\n".encode(), content_type="text/csv"))
    assert client.get_text(API) == "A,B\r\n1,é\r\n"


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors_name_the_status_and_url(client, server, status):
    server.route(API, Reply(b"error", status=status, content_type="text/plain"))
    with pytest.raises(FetchError, match=rf"api\.example\.org/v1/thing answered HTTP {status}"):
        client.get_json(API)
    # 5xx is retried (2 retries), 404 is not
    assert len(server.requests_to(API)) == (3 if status == 500 else 1)


def test_429_then_success_is_retried(client, server):
    server.route(
        API,
        sequence(
            Reply(
                b"slow down", status=429, content_type="text/plain", headers={"Retry-After": "0"}
            ),
            Reply(b"busy", status=503, content_type="text/plain"),
            json_reply({"ok": True}),
        ),
    )
    assert client.get_json(API) == {"ok": True}
    assert len(server.requests_to(API)) == 3


def test_a_timeout_is_a_fetch_error(server):
    server.route(API, Reply(b"{}", content_type="application/json", delay=1.5))
    with (
        Client(base_url=server.url, timeout=0.3, retries=0) as slow,
        pytest.raises(FetchError, match="timed out"),
    ):
        slow.get_json(API)


def test_a_connection_refused_is_a_fetch_error(tmp_path):
    """Said as what it is: urllib3's NewConnectionError is a ConnectTimeoutError by
    inheritance, and a refused connection was reported as "timed out (no answer within …)"."""
    refused = r"GET http://127\.0\.0\.1:9/\S+\.example\.org/\S* failed: cannot connect \("
    refused += r"Connection refused; 0 retries\)$"
    with Client(base_url="http://127.0.0.1:9", timeout=1, retries=0) as nowhere:
        with pytest.raises(FetchError, match=refused):
            nowhere.get_json(API)
        with pytest.raises(FetchError, match=refused):
            nowhere.download(FILE, tmp_path / "out" / "a.zip")
    assert leftovers(tmp_path / "out") == []


# -- downloads ------------------------------------------------------------------------------
def test_download_follows_redirects_and_checks(client, server, tmp_path):
    data = a_zip()
    server.route("https://api.example.org/file?id=1", redirect(FILE, status=302))
    server.route(FILE, Reply(data, content_type="application/zip"))
    dest = tmp_path / "d" / "archive.zip"
    got = client.download(
        "https://api.example.org/file?id=1",
        dest,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        size=len(data),
        kind="zip",
    )
    assert dest.read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.size == len(data)
    assert got.url.endswith("/files.example.org/data/archive.zip")
    assert got.content_type == "application/zip"
    assert [p.name for p in leftovers(tmp_path / "d")] == ["archive.zip"]


def _fails(client, tmp_path, match, **kwargs):
    dest = tmp_path / "d" / "archive.zip"
    with pytest.raises(FetchError, match=match) as info:
        client.download(FILE, dest, **kwargs)
    assert "files.example.org/data/archive.zip" in str(info.value)
    assert leftovers(tmp_path / "d") == []  # no file, no temporary file
    return info.value


def test_a_body_shorter_than_its_content_length_is_truncated(client, server, tmp_path):
    data = a_zip()
    server.route(FILE, Reply(data, content_type="application/zip", truncate_to=len(data) // 2))
    _fails(client, tmp_path, "truncated", kind="zip")


def test_a_download_the_disk_cannot_hold_says_so_not_that_it_was_cut(client, server, tmp_path):
    """A write refused (a full disk under the instance folder) names the folder; it was
    "was truncated: the connection ended after 0 bytes ([Errno 28] No space left on
    device)", blaming the publisher's connection."""
    data = a_zip(600_000)
    server.route(FILE, Reply(data, content_type="application/zip"))
    with files_limited_to(100_000):
        error = _fails(client, tmp_path, "could not be saved in .*/d: File too large", kind="zip")
    assert "truncated" not in str(error)


def test_a_cut_zip_with_a_matching_content_length_is_refused(client, server, tmp_path):
    data = a_zip()[:-5000]
    server.route(FILE, Reply(data, content_type="application/zip"))
    _fails(client, tmp_path, "not a readable zip", kind="zip")


def test_a_zip_with_a_damaged_member_is_refused(client, server, tmp_path):
    data = bytearray(a_zip())
    data[5000] ^= 0xFF  # inside the stored member: its CRC no longer matches
    server.route(FILE, Reply(bytes(data), content_type="application/zip"))
    _fails(client, tmp_path, "CRC|not a readable zip", kind="zip")


def test_an_md5_mismatch_is_refused(client, server, tmp_path):
    server.route(FILE, Reply(a_zip(), content_type="application/zip"))
    _fails(client, tmp_path, "md5", md5="0" * 32)


def test_a_size_mismatch_is_refused(client, server, tmp_path):
    data = a_zip()
    server.route(FILE, Reply(data, content_type="application/zip"))
    _fails(client, tmp_path, "bytes, the publisher lists", size=len(data) + 1)


def test_an_html_page_with_http_200_is_not_a_download(client, server, tmp_path):
    page = b"<html><head><title>Sign in</title></head></html>"
    server.route(FILE, Reply(page, content_type="text/html"))
    _fails(client, tmp_path, "web page")
    server.route(FILE, Reply(b"\n  <!doctype html><p>error", content_type="application/zip"))
    _fails(client, tmp_path, "web page")
    # a page whose bytes come a few at a time: each read gives what the socket had (a
    # byte, here), and the check sees the first 512 bytes as they come, not the first read
    page = b"\n  <!DOCTYPE html><html><body>Sign in</body></html>"
    server.route(FILE, Reply(page, content_type="application/zip", trickle=0.002))
    _fails(client, tmp_path, "web page")


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors_leave_nothing(client, server, tmp_path, status):
    server.route(FILE, Reply(b"nope", status=status, content_type="text/plain"))
    assert _fails(client, tmp_path, f"HTTP {status}").status == status


def test_a_download_that_times_out_leaves_nothing(server, tmp_path):
    server.route(FILE, Reply(a_zip(), content_type="application/zip", delay=1.5))
    with Client(base_url=server.url, timeout=0.3, retries=0) as slow:
        _fails(slow, tmp_path, "timed out", kind="zip")


def test_a_killed_downloads_part_file_is_removed_by_the_next(client, server, tmp_path):
    """A killed download's `.part` file (its `finally` never ran) is removed by the next
    download of that file once it is an hour old; a running one's is left alone."""
    import os
    import time

    folder = tmp_path / "d"
    folder.mkdir()
    stale, fresh = folder / ".archive.zip.k1ll3d.part", folder / ".archive.zip.runn1ng.part"
    for part in (stale, fresh):
        part.write_bytes(b"x" * 100)
    os.utime(stale, (time.time() - 3700, time.time() - 3700))
    data = a_zip()
    server.route(FILE, Reply(data, content_type="application/zip"))
    client.download(FILE, folder / "archive.zip", kind="zip")
    assert sorted(p.name for p in folder.iterdir()) == [".archive.zip.runn1ng.part", "archive.zip"]


def test_a_failed_download_keeps_the_previous_file(client, server, tmp_path):
    dest = tmp_path / "d" / "archive.zip"
    dest.parent.mkdir()
    dest.write_bytes(b"good data")
    server.route(FILE, Reply(a_zip()[:100], content_type="application/zip"))
    with pytest.raises(FetchError):
        client.download(FILE, dest, kind="zip")
    assert dest.read_bytes() == b"good data"
    assert leftovers(tmp_path / "d") == [dest]


def test_get_prefix_reads_only_the_start(client, server):
    server.route(FILE, Reply(b"A,B,202401\r\n" + b"x" * 500_000, content_type="text/csv"))
    assert client.get_prefix(FILE, 10) == b"A,B,202401"


def test_a_content_length_that_is_no_number_is_not_held_to(client, server, tmp_path):
    """ "²" passes str.isdigit() and fails int(): the download was a ValueError; a length
    that is no number is now ignored, as http.client ignores it."""
    data = a_zip()
    server.route(FILE, Reply(data, content_type="application/zip", headers={"Content-Length": "²"}))
    dest = tmp_path / "d" / "archive.zip"
    client.download(FILE, dest, kind="zip")
    assert dest.read_bytes() == data


# -- answers that never end, or never stop -------------------------------------------------


def test_an_answer_trickled_a_byte_at_a_time_is_given_up_on(server, monkeypatch):
    """The timeout bounds each read; an answer read a byte a second would never time out.
    Reading one may take ANSWER_TIMEOUTS timeouts in all (it hung the refresh for as long
    as the server kept sending)."""
    from geodata.fetch import http

    monkeypatch.setattr(http, "ANSWER_TIMEOUTS", 2)
    body = b'{"a": "' + b"x" * 40 + b'"}'
    server.route(API, Reply(body, content_type="application/json", trickle=0.05))
    with (
        Client(base_url=server.url, timeout=0.5, retries=0) as slow,
        pytest.raises(FetchError, match=r"took over 1 s \((\d+) bytes read\)") as given_up,
    ):
        slow.get_json(API)
    read = int(re.search(r"\((\d+) bytes read\)", str(given_up.value)).group(1))
    assert read < len(body)  # (given up on while it trickled, not once it had all come)


def test_a_download_trickled_a_byte_at_a_time_is_given_up_on_and_leaves_nothing(
    server, tmp_path, monkeypatch
):
    """A download's every read is bounded by the timeout, so a server sending a byte a
    second was read for as long as it kept sending (a refresh hung); one bringing under
    pace.MIN_RATE bytes a second over a stretch of ANSWER_TIMEOUTS timeouts is given
    up on, while it trickles, and leaves no file; a file sent at speed is taken."""
    from geodata.fetch import http

    monkeypatch.setattr(http, "ANSWER_TIMEOUTS", 2)
    data = a_zip()
    server.route(FILE, Reply(data, content_type="application/zip", trickle=0.02))
    dest = tmp_path / "d" / "archive.zip"
    with (
        Client(base_url=server.url, timeout=0.5, retries=0) as slow,
        pytest.raises(FetchError, match=r"given up on: \d+ bytes in 1 s, under 4,096 a second"),
    ):
        slow.download(FILE, dest, kind="zip")
    assert list(tmp_path.rglob("*")) == [tmp_path / "d"]  # no file, no .part
    server.route(FILE, Reply(data, content_type="application/zip"))
    with Client(base_url=server.url, timeout=0.5, retries=0) as quick:
        quick.download(FILE, dest, kind="zip")
    assert dest.read_bytes() == data


def test_an_answer_past_the_size_of_any_document_is_refused(client, server, monkeypatch):
    from geodata.fetch import http

    monkeypatch.setattr(http, "MAX_ANSWER_BYTES", 1_000)
    server.route(API, json_reply({"a": "x" * 2_000}))
    with pytest.raises(FetchError, match=r"is 2,\d{3} bytes, over 1,000: not the document"):
        client.get_json(API)
    server.route(API, json_reply({"a": "x" * 500}))
    assert client.get_json(API) == {"a": "x" * 500}


def test_json_nested_past_what_python_reads_is_a_fetch_error(client, server):
    server.route(API, Reply(b"[" * 200_000 + b"]" * 200_000, content_type="application/json"))
    with pytest.raises(FetchError, match="did not answer valid JSON"):
        client.get_json(API)
