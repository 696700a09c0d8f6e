"""Download the files named in a sources manifest into a data directory.

Each file is fetched with :mod:`urllib`, written to a temporary file beside its target and
moved into place with :func:`os.replace` only when complete (and, when the manifest gives
a sha256, only when the checksum matches), so a failed download never leaves a
half-written file behind.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from geodata.errors import DataFileError
from geodata.pace import Pace
from geodata.sources import Manifest, SourceFile

__all__ = ["download_sources", "source_url"]

_CHUNK = 1 << 20
#: the largest file a download may be (the biggest official file, ONS's postcode directory,
#: is about 250 MB zipped): a wrong or hostile address cannot fill the disk
MAX_DOWNLOAD_BYTES = 1 << 30


def source_url(entry: SourceFile, base_url: str | None = None) -> str:
    """The URL a manifest entry is fetched from.

    Parameters
    ----------
    entry : SourceFile
        A manifest entry.
    base_url : str, optional
        A mirror laid out like the data directory; when given the URL is
        ``base_url + "/" + entry.path``, otherwise the entry's own ``url``.

    Returns
    -------
    str
    """
    if base_url:
        return base_url.rstrip("/") + "/" + entry.path.lstrip("/")
    return entry.url


#: the media types of a web page, not a data file
HTML_TYPES = ("text/html", "application/xhtml+xml")


def is_html_type(content_type: str | None) -> bool:
    """Whether a Content-Type names a web page."""
    return (content_type or "").split(";")[0].strip().lower() in HTML_TYPES


def starts_like_html(first_bytes: bytes) -> bool:
    """Whether a body's first 512 bytes open an HTML page (a publication's landing page, a
    login or error page served as anything) rather than a data file."""
    start = first_bytes[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html"))


def _is_web_page(response: Any, first_chunk: bytes) -> bool:
    """Whether a response is a web page rather than a data file: by its Content-Type,
    else by its first bytes."""
    headers = getattr(response, "headers", None)
    content_type = headers.get("Content-Type", "") if headers is not None else ""
    return is_html_type(content_type) or starts_like_html(first_chunk)


#: a download's ``.part`` file not written to for this long was left by a download that was
#: killed (its ``finally`` never ran): a running one writes at least once a timeout
STALE_PART_S = 3600


@contextlib.contextmanager
def _writing(destination: Path) -> Iterator[None]:
    """A write the system refuses (a full disk, a quota) is "Cannot write <file>", as a
    folder that cannot be made is, not a download that failed."""
    try:
        yield
    except OSError as exc:
        raise DataFileError(f"Cannot write {destination}: {exc.strerror or exc}") from exc


def remove_stale_parts(destination: Path) -> None:
    """Remove the ``.part`` files that killed downloads of ``destination`` left beside it
    (``.<name>.<random>.part``, not written to for STALE_PART_S); another download's
    running now is left alone."""
    cutoff = time.time() - STALE_PART_S
    for part in destination.parent.glob(f".{glob.escape(destination.name)}.*.part"):
        with contextlib.suppress(OSError):
            if part.is_file() and not part.is_symlink() and part.stat().st_mtime < cutoff:
                part.unlink()


def download_sources(
    manifest: Manifest,
    target_dir: str | Path,
    *,
    base_url: str | None = None,
    timeout: float = 60,
    opener: Callable[..., Any] | None = None,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> list[Path]:
    """Fetch every file of a manifest into ``target_dir``.

    Parameters
    ----------
    manifest : Manifest
        The files to fetch (see :func:`geodata.sources.load_manifest`).
    target_dir : str or Path
        Destination; each file goes to ``target_dir / entry.path`` (folders created).
    base_url : str, optional
        Fetch from a mirror laid out like the data directory instead of each entry's
        ``url``.
    timeout : float, default 60
        Socket timeout in seconds per request; a file bringing under
        :data:`geodata.pace.MIN_RATE` bytes a second over a stretch of ten timeouts is
        given up on.
    opener : callable, optional
        Replacement for :func:`urllib.request.urlopen`, called as
        ``opener(url, timeout=timeout)`` and returning a file-like response.
    max_bytes : int, default MAX_DOWNLOAD_BYTES
        A file longer than this is abandoned (nothing written) with a DataFileError.

    Returns
    -------
    list of Path
        The written files, in manifest order.

    Raises
    ------
    DataFileError
        Naming the URL, on an HTTP or network error, a checksum mismatch, or a web page
        (HTML) where a data file was expected. Files fetched before the failure are kept;
        the failing file is not written.
    """
    open_url = opener or urllib.request.urlopen
    target = Path(target_dir)
    written: list[Path] = []
    for entry in manifest.files:
        url = source_url(entry, base_url)
        destination = target / entry.path
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_parts(destination)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
            )
        except OSError as exc:  # (a file where a folder should be, no permission, a full disk)
            raise DataFileError(f"Cannot write {destination}: {exc}") from exc
        tmp = Path(tmp_name)
        try:
            digest, size = hashlib.sha256(), 0
            try:
                with os.fdopen(fd, "wb") as out, open_url(url, timeout=timeout) as response:
                    headers = getattr(response, "headers", None)  # (an opener's may have none)
                    declared = headers.get("Content-Length") if headers is not None else None
                    head = b""  # the body's first bytes, for the web-page check
                    # (read1, where the response has it: what one read of the socket gave,
                    # so that the pace is seen between a trickle's bytes; read waits for
                    # a whole chunk. A stretch of ten timeouts under pace.MIN_RATE bytes a
                    # second is given up on)
                    read = getattr(response, "read1", None) or response.read
                    pace = Pace(timeout * 10)
                    while chunk := read(_CHUNK):
                        # (a read may give a byte: the check sees the first 512 as they
                        # come)
                        if len(head) < 512 and _is_web_page(
                            response, head := head + chunk[: 512 - len(head)]
                        ):
                            raise DataFileError(
                                f"Download failed: {url} answered with a web page, not the "
                                f"data file {entry.path}. The address may be the "
                                "publication's page: download the file from there and put it "
                                f"at {destination}, or fetch from a mirror laid out like the "
                                "data directory (--base-url, DIRECTORY_GEODATA_BASE_URL)."
                            )
                        size += len(chunk)
                        if size > max_bytes:
                            raise DataFileError(
                                f"Download failed: {url} is larger than "
                                f"{max_bytes / 2**20:,.0f} MB, more than any data file "
                                f"{entry.path} should be; nothing was written."
                            )
                        digest.update(chunk)
                        with _writing(destination):
                            out.write(chunk)
                        if slow := pace.too_slow(size):
                            raise DataFileError(
                                f"Download failed: {url} was given up on: {slow} "
                                f"({size:,} bytes read); nothing was written."
                            )
                    with _writing(destination):
                        out.flush()
                    # (a server that closes early is no error to urllib: the bytes stop)
                    if declared and declared.strip().isdigit() and size != int(declared):
                        raise DataFileError(
                            f"Download failed: {url} was cut short ({size:,} of "
                            f"{int(declared):,} bytes); nothing was written."
                        )
            except urllib.error.HTTPError as exc:
                exc.close()
                raise DataFileError(
                    f"Download failed: {url} answered HTTP {exc.code} {exc.reason}"
                ) from exc
            except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
                # (HTTPException: IncompleteRead, a chunked answer cut short)
                raise DataFileError(f"Download failed: {url} ({exc})") from exc
            if entry.sha256 and digest.hexdigest().lower() != entry.sha256.lower():
                raise DataFileError(
                    f"Checksum mismatch for {url}: expected sha256 {entry.sha256}, "
                    f"got {digest.hexdigest()}"
                )
            os.replace(tmp, destination)
        finally:
            tmp.unlink(missing_ok=True)
        written.append(destination)
    return written
