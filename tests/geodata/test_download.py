"""download_sources against a local HTTP server serving the shared data directory."""

import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from geodata.download import download_sources
from geodata.errors import DataFileError
from geodata.sources import Manifest, SourceFile, load_manifest
from tests.conftest import files_limited_to


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass


@pytest.fixture(scope="module")
def server_url(shared_data_dir):
    handler = functools.partial(QuietHandler, directory=str(shared_data_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def entry(path, sha256=None, key="f"):
    return SourceFile(
        key=key,
        path=path,
        release="r",
        vintage="v",
        licence="l",
        attribution="a",
        url="https://example.invalid/",
        sha256=sha256,
    )


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(directory):
    return [p for p in directory.rglob("*") if p.is_file()]


def test_download_writes_identical_bytes(server_url, shared_data_dir, tmp_path):
    manifest = load_manifest()
    small = Manifest(files=[manifest.file("ward_names"), manifest.file("wards")])
    written = download_sources(small, tmp_path, base_url=server_url)
    assert written == [tmp_path / f.path for f in small.files]
    for f in small.files:
        assert (tmp_path / f.path).read_bytes() == (shared_data_dir / f.path).read_bytes()
    assert sorted(leftovers(tmp_path)) == sorted(written)


def test_checksum_verified(server_url, shared_data_dir, tmp_path):
    path = "reference/met_bcus_boroughs.csv"
    good = Manifest(files=[entry(path, sha256=sha(shared_data_dir / path).upper())])
    assert download_sources(good, tmp_path, base_url=server_url) == [tmp_path / path]


def test_404_raises_and_leaves_no_file(server_url, tmp_path):
    manifest = Manifest(files=[entry("reference/does_not_exist.csv")])
    with pytest.raises(DataFileError, match=r"does_not_exist\.csv.*404"):
        download_sources(manifest, tmp_path, base_url=server_url)
    assert leftovers(tmp_path) == []


def test_checksum_mismatch_raises_and_leaves_no_file(server_url, tmp_path):
    manifest = Manifest(files=[entry("reference/met_bcus_boroughs.csv", sha256="0" * 64)])
    with pytest.raises(DataFileError, match="Checksum mismatch.*met_bcus_boroughs"):
        download_sources(manifest, tmp_path, base_url=server_url)
    assert leftovers(tmp_path) == []


def test_failure_keeps_an_existing_file_intact(server_url, tmp_path):
    target = tmp_path / "reference" / "met_bcus_boroughs.csv"
    target.parent.mkdir()
    target.write_text("old contents")
    manifest = Manifest(files=[entry("reference/met_bcus_boroughs.csv", sha256="0" * 64)])
    with pytest.raises(DataFileError):
        download_sources(manifest, tmp_path, base_url=server_url)
    assert target.read_text() == "old contents"
    assert leftovers(tmp_path) == [target]


def test_connection_error_names_url(tmp_path):
    manifest = Manifest(files=[entry("x.csv")])
    with pytest.raises(DataFileError, match=r"http://127\.0\.0\.1:9/x\.csv"):
        download_sources(manifest, tmp_path, base_url="http://127.0.0.1:9", timeout=2)
    assert leftovers(tmp_path) == []


def test_custom_opener_uses_entry_url(tmp_path):
    import io

    seen = []

    def opener(url, timeout):
        seen.append((url, timeout))
        return io.BytesIO(b"hello")

    manifest = Manifest(files=[entry("a/b.txt")])
    download_sources(manifest, tmp_path, opener=opener, timeout=5)
    assert seen == [("https://example.invalid/", 5)]
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"hello"


def test_a_web_page_instead_of_a_data_file_is_refused(tmp_path):
    # an official address that is the publication's landing page, served as text/html
    site = tmp_path / "site"
    (site / "boundaries").mkdir(parents=True)
    (site / "boundaries" / "boroughs.html").write_text("<p>Download the boundary files</p>")
    handler = functools.partial(QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = tmp_path / "data"
    try:
        manifest = Manifest(files=[entry("boundaries/boroughs.html")])
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(DataFileError, match="web page, not the data file"):
            download_sources(manifest, target, base_url=base)
    finally:
        server.shutdown()
        server.server_close()
    assert leftovers(target) == []


def test_a_web_page_is_recognised_by_its_first_bytes_too(tmp_path):
    import io

    def opener(url, timeout):
        return io.BytesIO(b"\n  <!DOCTYPE html>\n<html><body>Sign in</body></html>")

    manifest = Manifest(files=[entry("postcodes/london.csv")])
    with pytest.raises(DataFileError, match=r"put it at .*london\.csv"):
        download_sources(manifest, tmp_path, opener=opener)
    assert leftovers(tmp_path) == []


def test_a_web_page_whose_bytes_come_a_few_at_a_time_is_recognised(tmp_path):
    """Each read gives what one read of the socket had (read1): the first may be a byte.
    The check sees the first 512 bytes as they come, not the first read alone."""

    class Trickling:
        headers = {"Content-Type": "text/csv"}

        def __init__(self, body: bytes) -> None:
            self._body = body

        def read1(self, n: int = -1) -> bytes:
            chunk, self._body = self._body[:1], self._body[1:]
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def opener(url, timeout):
        return Trickling(b"\n  <!DOCTYPE html>\n<html><body>Sign in</body></html>")

    manifest = Manifest(files=[entry("postcodes/london.csv")])
    with pytest.raises(DataFileError, match=r"web page, not the data file"):
        download_sources(manifest, tmp_path, opener=opener)
    assert leftovers(tmp_path) == []
    body = b"pcd,ward\nKT1 1EU,E05013933\n"
    assert download_sources(manifest, tmp_path, opener=lambda url, timeout: Trickling(body)) == [
        tmp_path / "postcodes" / "london.csv"
    ]
    assert (tmp_path / "postcodes" / "london.csv").read_bytes() == body


def test_a_download_larger_than_the_limit_is_abandoned(server_url, shared_data_dir, tmp_path):
    """A wrong or hostile address cannot fill the disk: past max_bytes the download stops,
    nothing is written, and an existing file is kept."""
    path = "reference/met_bcus_boroughs.csv"
    size = (shared_data_dir / path).stat().st_size
    target = tmp_path / path
    target.parent.mkdir()
    target.write_text("old contents")
    with pytest.raises(DataFileError, match=r"larger than .* MB.*nothing was written"):
        download_sources(
            Manifest(files=[entry(path)]), tmp_path, base_url=server_url, max_bytes=size - 1
        )
    assert leftovers(tmp_path) == [target] and target.read_text() == "old contents"
    assert download_sources(
        Manifest(files=[entry(path)]), tmp_path, base_url=server_url, max_bytes=size
    ) == [target]


# -- answers cut short, and where nothing can be written -----------------------------------


class _Answer:
    """An HTTP answer as urllib's opener gives it: headers, read(), a context manager."""

    def __init__(self, body: bytes, headers: dict[str, str], fail: Exception | None = None):
        self.headers, self._body, self._fail = headers, body, fail

    def read(self, n: int = -1) -> bytes:
        if not self._body and self._fail is not None:
            raise self._fail
        chunk, self._body = self._body[:n], self._body[n:]
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_an_answer_shorter_than_its_content_length_is_refused(tmp_path):
    """A server that closes early is no error to urllib: the bytes just stop. The half file
    was written and the command said it had downloaded it."""

    def opener(url, timeout):
        return _Answer(b"x" * 500, {"Content-Length": "1000"})

    with pytest.raises(DataFileError, match=r"was cut short \(500 of 1,000 bytes\)"):
        download_sources(Manifest(files=[entry("a/b.csv")]), tmp_path, opener=opener)
    assert leftovers(tmp_path) == []


def test_a_chunked_answer_cut_short_is_refused(tmp_path):
    import http.client

    def opener(url, timeout):
        return _Answer(b"x" * 10, {}, fail=http.client.IncompleteRead(b"x" * 10, 90))

    with pytest.raises(DataFileError, match="Download failed: .*IncompleteRead"):
        download_sources(Manifest(files=[entry("a/b.csv")]), tmp_path, opener=opener)
    assert leftovers(tmp_path) == []


def test_a_file_where_the_data_folder_should_be_is_said_so(tmp_path):
    (tmp_path / "a").write_text("a file, not a folder")

    def opener(url, timeout):
        return _Answer(b"hello", {"Content-Length": "5"})

    with pytest.raises(DataFileError, match=r"Cannot write .*a/b\.csv"):
        download_sources(Manifest(files=[entry("a/b.csv")]), tmp_path, opener=opener)


def test_a_file_the_disk_cannot_hold_is_said_so_and_not_written(tmp_path):
    """A write refused (a full disk) is "Cannot write <file>", as a folder that cannot be
    made is, not "Download failed"; no part file stays."""

    def opener(url, timeout):
        return _Answer(b"x" * 300_000, {"Content-Length": "300000"})

    with (
        files_limited_to(100_000),
        pytest.raises(DataFileError, match=r"^Cannot write .*a/b\.csv: File too large$"),
    ):
        download_sources(Manifest(files=[entry("a/b.csv")]), tmp_path, opener=opener)
    assert leftovers(tmp_path) == []


def test_a_file_trickled_a_byte_at_a_time_is_given_up_on_and_not_written(tmp_path):
    """Each read is bounded by the timeout, so a server sending a byte every few seconds
    was read for as long as it kept sending; a stretch of ten timeouts bringing under
    pace.MIN_RATE bytes a second is given up on while it trickles, and nothing written.
    The same file sent at speed is written."""
    from tests.geodata.fetch.server import FixtureServer, Reply

    body = b"code,name\n" + b"E09000001,City of London\n" * 400
    server = FixtureServer().start()
    try:
        server.route("/a/b.csv", Reply(body, content_type="text/csv", trickle=0.02))
        with pytest.raises(DataFileError, match=r"given up on: \d+ bytes in 1 s, under 4,096"):
            download_sources(
                Manifest(files=[entry("a/b.csv")]), tmp_path, base_url=server.url, timeout=0.1
            )
        assert leftovers(tmp_path) == []
        server.route("/a/b.csv", Reply(body, content_type="text/csv"))
        assert download_sources(
            Manifest(files=[entry("a/b.csv")]), tmp_path, base_url=server.url, timeout=0.1
        ) == [tmp_path / "a" / "b.csv"]
        assert (tmp_path / "a" / "b.csv").read_bytes() == body
    finally:
        server.stop()


def test_the_part_files_of_a_killed_download_are_removed_by_the_next(tmp_path):
    """A download writes `.<name>.<random>.part` and removes it in its `finally`; one killed
    left it beside the file for ever. The next download of that file removes those not
    written to for an hour, and leaves a fresh one (another download's, running now) and
    other files' alone."""
    import os
    import time

    folder = tmp_path / "a"
    folder.mkdir()
    stale = folder / ".b.csv.k1ll3d.part"
    fresh = folder / ".b.csv.runn1ng.part"
    other = folder / ".c.csv.k1ll3d.part"
    for part in (stale, fresh, other):
        part.write_bytes(b"x" * 100)
    hour_ago = time.time() - 3700
    for part in (stale, other):
        os.utime(part, (hour_ago, hour_ago))

    def opener(url, timeout):
        return _Answer(b"hello", {"Content-Length": "5"})

    assert download_sources(Manifest(files=[entry("a/b.csv")]), tmp_path, opener=opener) == [
        folder / "b.csv"
    ]
    assert sorted(p.name for p in folder.iterdir()) == [
        ".b.csv.runn1ng.part", ".c.csv.k1ll3d.part", "b.csv"
    ]  # fmt: skip
