"""HTTP for the fetchers: JSON and text answers, checked downloads, and a mirror.

:class:`Client` wraps one :class:`requests.Session` with retries (HTTP 429 and 5xx,
connection and read errors, with exponential backoff and ``Retry-After``), a timeout on
every request, and one failure type: :class:`~geodata.errors.FetchError`, whose message
names the URL. Downloads stream to a temporary file beside their destination and are
moved into place with :func:`os.replace` only when complete and checked, so a failed
download never leaves a file (whole or partial) at the destination.

A *mirror* serves every publisher from one server: with ``base_url`` given, an absolute
URL ``https://api.os.uk/downloads/v1/products/CodePointOpen`` is fetched from
``<base_url>/api.os.uk/downloads/v1/products/CodePointOpen``. The rewrite applies to every
URL the client is asked for, including URLs read from API answers and the targets of
redirects, so the tests (and a real mirror) need no other configuration.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from geodata.download import is_html_type, remove_stale_parts, starts_like_html
from geodata.errors import FetchError
from geodata.pace import Pace

__all__ = ["Client", "Downloaded", "DEFAULT_USER_AGENT", "RETRY_STATUSES"]

DEFAULT_USER_AGENT = "london-funded-services-directory/geodata-fetch (python-requests)"
#: HTTP statuses retried with backoff before giving up.
RETRY_STATUSES = (429, 500, 502, 503, 504)
_CHUNK = 1 << 20
#: the most bytes a document answered (JSON: a product's description, a page of wards)
#: may be, and how many timeouts reading one may take in all
MAX_ANSWER_BYTES, ANSWER_TIMEOUTS = 64 * 2**20, 10
_READ_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A file fetched by :meth:`Client.download`.

    Attributes
    ----------
    path : Path
        Where the file now is (the ``dest`` asked for).
    url : str
        The final URL, after redirects (the mirror form when fetched from a mirror).
    sha256, md5 : str
        Hex digests of the bytes written.
    size : int
        Bytes written.
    content_type : str
        The answer's ``Content-Type`` header ("" when absent).
    """

    path: Path
    url: str
    sha256: str
    md5: str
    size: int
    content_type: str


class _MirrorSession(requests.Session):
    """A session whose redirects are rewritten through the mirror too."""

    def __init__(self, rewrite: Any) -> None:
        super().__init__()
        self._rewrite = rewrite

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        return self._rewrite(target) if target else target


def _is_timeout(exc: BaseException) -> bool:
    """Whether a requests exception is (or wraps) a timeout."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # (urllib3's NewConnectionError is a ConnectTimeoutError by inheritance only: a
        # connection refused, or a name not found, is no timeout)
        if isinstance(current, urllib3.exceptions.TimeoutError | TimeoutError) and not isinstance(
            current, urllib3.exceptions.NewConnectionError
        ):
            return True
        if isinstance(current, BaseException):
            todo.extend([current.__cause__, current.__context__, *current.args])
        if isinstance(current, urllib3.exceptions.MaxRetryError):
            todo.append(current.reason)
    return False


def _not_connected(exc: BaseException) -> str | None:
    """Why no connection was made (the system's words: "Connection refused", "Name or
    service not known"), when that is what a requests exception is."""
    reason = exc.args[0].reason if exc.args and hasattr(exc.args[0], "reason") else None
    if not isinstance(reason, urllib3.exceptions.NewConnectionError):
        return None
    cause = reason.__cause__ or reason.__context__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(reason).rpartition(": ")[2] or "no connection"


class Client:
    """An HTTP client for the publishers' machine interfaces.

    Parameters
    ----------
    base_url : str, optional
        A mirror: every absolute http(s) URL not already under it is fetched from
        ``base_url + "/" + host + path (+ "?" + query)``.
    timeout : float, default 60
        Seconds allowed to connect and between bytes received (per request).
    retries : int, default 2
        Retries after the first attempt for HTTP 429/5xx, connection errors and read
        timeouts (GET only), with exponential backoff and ``Retry-After`` honoured.
    user_agent : str
        The ``User-Agent`` header sent.
    backoff_factor : float, default 0.5
        urllib3 backoff factor: retry *n* waits about ``backoff_factor * 2 ** (n - 1)`` s.

    Notes
    -----
    Use it as a context manager (or call :meth:`close`) to release its connections.
    """

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float = 60,
        retries: int = 2,
        user_agent: str = DEFAULT_USER_AGENT,
        *,
        backoff_factor: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        self.retries = retries
        options: dict[str, Any] = {
            "total": retries,
            "connect": retries,
            "read": retries,
            "status": retries,
            "other": 0,
            "redirect": None,
            "allowed_methods": frozenset({"GET", "HEAD"}),
            "status_forcelist": RETRY_STATUSES,
            "backoff_factor": backoff_factor,
            "backoff_max": 60,
            "retry_after_max": 300,
            "respect_retry_after_header": True,
            "raise_on_status": False,
        }
        accepted = inspect.signature(Retry.__init__).parameters
        # older urllib3 releases lack backoff_max / retry_after_max: leave those out
        retry = Retry(**{k: v for k, v in options.items() if k in accepted})
        self._session = _MirrorSession(self.mirror)
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = user_agent

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Release the session's connections."""
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- URLs --------------------------------------------------------------------------
    def mirror(self, url: str) -> str:
        """The URL actually fetched for ``url``.

        Parameters
        ----------
        url : str
            Any URL.

        Returns
        -------
        str
            Without a mirror, or for a URL that is relative, not http(s) or already under
            the mirror, ``url`` itself; otherwise ``base_url/<host>[:port]/<path>[?query]``.
        """
        if not self.base_url or url == self.base_url or url.startswith(self.base_url + "/"):
            return url
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return url
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        mirrored = f"{self.base_url}/{host}{parts.path or '/'}"
        return f"{mirrored}?{parts.query}" if parts.query else mirrored

    def official(self, url: str) -> str:
        """The official (publisher's) form of a URL that may be in the mirror form.

        Parameters
        ----------
        url : str
            A URL as fetched.

        Returns
        -------
        str
            ``https://<host>/<path>`` for a URL under the mirror (the mirror keeps no
            scheme; publishers serve https), otherwise ``url`` unchanged.
        """
        if self.base_url and url.startswith(self.base_url + "/"):
            return "https://" + url[len(self.base_url) + 1 :]
        return url

    @staticmethod
    def _shown(url: str, params: dict[str, Any] | None) -> str:
        if not params:
            return url
        try:
            return requests.Request("GET", url, params=params).prepare().url or url
        except requests.RequestException:
            return url

    # -- requests ----------------------------------------------------------------------
    def _get(
        self, url: str, params: dict[str, Any] | None = None, *, stream: bool = False
    ) -> requests.Response:
        target = self.mirror(url)
        shown = self._shown(target, params)
        try:
            response = self._session.get(
                target, params=params, timeout=self.timeout, stream=stream, allow_redirects=True
            )
        except requests.exceptions.TooManyRedirects as exc:
            raise FetchError(f"GET {shown}: too many redirects ({exc})", url=shown) from exc
        except requests.RequestException as exc:
            if _is_timeout(exc):
                raise FetchError(
                    f"GET {shown} timed out (no answer within {self.timeout:g} s, "
                    f"{self.retries} retries)",
                    url=shown,
                ) from exc
            refused = _not_connected(exc)
            if refused is not None:
                raise FetchError(
                    f"GET {shown} failed: cannot connect ({refused}; {self.retries} retries)",
                    url=shown,
                ) from exc
            raise FetchError(f"GET {shown} failed: {exc}", url=shown) from exc
        if not 200 <= response.status_code < 300:
            status, reason = response.status_code, response.reason or ""
            final = response.url or shown
            response.close()
            raise FetchError(
                f"GET {final} answered HTTP {status} {reason}".rstrip(), url=final, status=status
            )
        return response

    def _body(self, url: str, params: dict[str, Any] | None) -> tuple[bytes, str, str]:
        """The answer's bytes, read within MAX_ANSWER_BYTES and ANSWER_TIMEOUTS times the
        timeout in all (the timeout bounds each read: a server sending a byte a second
        would otherwise never be given up on)."""
        response = self._get(url, params, stream=True)
        final = response.url or self._shown(self.mirror(url), params)
        deadline = time.monotonic() + self.timeout * ANSWER_TIMEOUTS
        chunks: list[bytes] = []
        size = 0
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
            response.close()
            raise FetchError(
                f"The answer of {final} is {int(declared):,} bytes, over {MAX_ANSWER_BYTES:,}: "
                "not the document expected",
                url=final,
            )
        try:
            while chunk := response.raw.read1(_READ_BYTES, decode_content=True):
                # (read1: what one read of the socket gave, so that the deadline is seen
                # between a trickle's bytes; iter_content waits for the whole answer)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise FetchError(
                        f"The answer of {final} is over {MAX_ANSWER_BYTES:,} bytes: not the "
                        "document expected",
                        url=final,
                    )
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"Reading the answer of {final} took over "
                        f"{self.timeout * ANSWER_TIMEOUTS:g} s ({size:,} bytes read)",
                        url=final,
                    )
                chunks.append(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            what = "timed out" if _is_timeout(exc) else f"was cut short ({exc})"
            raise FetchError(f"Reading the answer of {final} {what}", url=final) from exc
        finally:
            response.close()
        body = b"".join(chunks)
        content_type = response.headers.get("Content-Type", "")
        if is_html_type(content_type) or starts_like_html(body):
            raise FetchError(
                f"{final} answered with a web page (Content-Type {content_type or 'unset'}), "
                "not the data expected: the address may have moved or the service may be down",
                url=final,
            )
        return body, final, content_type

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON document.

        Parameters
        ----------
        url : str
            Official (or mirror) URL.
        params : dict, optional
            Query parameters.

        Returns
        -------
        Any
            The decoded JSON.

        Raises
        ------
        FetchError
            Naming the URL: non-2xx status (after retries), timeout, connection error, a
            web page, invalid JSON, or an ArcGIS error body (``{"error": {...}}``) sent
            with HTTP 200.
        """
        body, final, _ctype = self._body(url, params)
        try:
            data = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # (nested too deep)
            raise FetchError(
                f"{final} did not answer valid JSON ({exc}); it starts {body[:80]!r}", url=final
            ) from exc
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            error = data["error"]
            details = error.get("details") or []
            more = f" ({'; '.join(str(d) for d in details)})" if details else ""
            raise FetchError(
                f"{final} answered an ArcGIS error: code {error.get('code')}, "
                f"{error.get('message') or 'no message'}{more}",
                url=final,
                status=error.get("code") if isinstance(error.get("code"), int) else None,
            )
        return data

    def get_text(self, url: str, params: dict[str, Any] | None = None) -> str:
        """GET a text document (e.g. a CSV answer of the Nomis API).

        Parameters
        ----------
        url : str
            Official (or mirror) URL.
        params : dict, optional
            Query parameters.

        Returns
        -------
        str
            The body decoded as UTF-8 (a BOM dropped), else Windows-1252.

        Raises
        ------
        FetchError
            As :meth:`get_json`, less the JSON checks.
        """
        body, _final, _ctype = self._body(url, params)
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            return body.decode("cp1252", errors="replace")

    def get_prefix(
        self, url: str, nbytes: int = 65536, params: dict[str, Any] | None = None
    ) -> bytes:
        """GET only the first bytes of a file (e.g. to read a CSV header cheaply).

        Parameters
        ----------
        url : str
            Official (or mirror) URL.
        nbytes : int, default 65536
            How many bytes to read at most; the connection is dropped after them.
        params : dict, optional
            Query parameters.

        Returns
        -------
        bytes
            Up to ``nbytes`` bytes from the start of the body.

        Raises
        ------
        FetchError
            As :meth:`get_text`.
        """
        response = self._get(url, params, stream=True)
        final = response.url
        content_type = response.headers.get("Content-Type", "")
        data = bytearray()
        try:
            for chunk in response.iter_content(min(nbytes, _CHUNK)):
                data += chunk
                if len(data) >= nbytes:
                    break
        except requests.RequestException as exc:
            what = "timed out" if _is_timeout(exc) else f"was cut short ({exc})"
            raise FetchError(f"Reading the answer of {final} {what}", url=final) from exc
        finally:
            response.close()
        if is_html_type(content_type) or starts_like_html(bytes(data)):
            raise FetchError(f"{final} answered with a web page, not a data file", url=final)
        return bytes(data[:nbytes])

    def download(
        self,
        url: str,
        dest: str | Path,
        *,
        params: dict[str, Any] | None = None,
        md5: str | None = None,
        size: int | None = None,
        kind: str | None = None,
    ) -> Downloaded:
        """Download a file to ``dest``, all or nothing.

        Parameters
        ----------
        url : str
            Official (or mirror) URL; redirects are followed (through the mirror).
        dest : str or Path
            Destination file; its folder is created.
        params : dict, optional
            Query parameters.
        md5 : str, optional
            Expected MD5 hex digest of the bytes.
        size : int, optional
            Expected size in bytes.
        kind : {"zip"}, optional
            ``"zip"``: the file must open with :mod:`zipfile` and pass its CRC test.

        Returns
        -------
        Downloaded

        Raises
        ------
        FetchError
            Naming the URL: HTTP error, timeout, a web page (by Content-Type or first
            bytes), a body shorter than its Content-Length, an md5 or size mismatch, or a
            broken zip. Nothing is then left at ``dest`` (an existing file there is kept
            as it was) and no temporary file remains.
        """
        if kind not in (None, "zip"):
            raise ValueError(f"unknown download kind {kind!r}")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(dest)  # (those of a download killed before its finally ran)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        sha256, md5_digest, written = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        try:
            with os.fdopen(fd, "wb") as out:
                response = self._get(url, params, stream=True)
                with response:
                    final = response.url
                    content_type = response.headers.get("Content-Type", "")
                    if is_html_type(content_type):
                        raise FetchError(
                            f"{final} answered with a web page (Content-Type {content_type}), "
                            "not the file expected",
                            url=final,
                        )
                    length = response.headers.get("Content-Length")
                    encoded = response.headers.get("Content-Encoding", "identity").lower()
                    # (isdigit alone takes "²", which int() refuses)
                    expected = (
                        int(length) if length and length.isascii() and length.isdigit() else None
                    )
                    if encoded not in ("", "identity"):
                        expected = None  # the length is of the encoded body
                    # a download (a file of any size) is given up on when a stretch of
                    # ANSWER_TIMEOUTS timeouts brings under pace.MIN_RATE bytes a second
                    pace = Pace(self.timeout * ANSWER_TIMEOUTS)
                    try:
                        # (read1: what one read of the socket gave, so that the pace is
                        # seen between a trickle's bytes; iter_content waits for 1 MB)
                        head = b""  # the body's first bytes, for the web-page check
                        while chunk := response.raw.read1(_CHUNK, decode_content=True):
                            # (a read may give a byte: the check sees the first 512 as
                            # they come)
                            if len(head) < 512 and starts_like_html(
                                head := head + chunk[: 512 - len(head)]
                            ):
                                raise FetchError(
                                    f"{final} answered with a web page, not the file expected",
                                    url=final,
                                )
                            with _saving(final, dest.parent):
                                out.write(chunk)
                            sha256.update(chunk)
                            md5_digest.update(chunk)
                            written += len(chunk)
                            if slow := pace.too_slow(written):
                                raise FetchError(
                                    f"Download of {final} was given up on: {slow} "
                                    f"({written:,} bytes read)",
                                    url=final,
                                )
                        with _saving(final, dest.parent):
                            out.flush()
                    except (
                        requests.RequestException,
                        urllib3.exceptions.HTTPError,
                        OSError,
                    ) as exc:
                        if _is_timeout(exc):
                            raise FetchError(
                                f"Download of {final} timed out after {written} bytes "
                                f"(no data for {self.timeout:g} s)",
                                url=final,
                            ) from exc
                        of = f" of {expected}" if expected is not None else ""
                        raise FetchError(
                            f"Download of {final} was truncated: the connection ended after "
                            f"{written}{of} bytes ({exc})",
                            url=final,
                        ) from exc
            if expected is not None and written != expected:
                raise FetchError(
                    f"Download of {final} was truncated: got {written} of the {expected} bytes "
                    "its Content-Length announced",
                    url=final,
                )
            if size is not None and written != int(size):
                raise FetchError(
                    f"Download of {final} has {written} bytes, the publisher lists {size}",
                    url=final,
                )
            if md5 and md5_digest.hexdigest() != md5.strip().lower():
                raise FetchError(
                    f"Download of {final} has md5 {md5_digest.hexdigest()}, the publisher "
                    f"lists {md5}",
                    url=final,
                )
            if kind == "zip":
                _check_zip(tmp, final)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return Downloaded(
            path=dest,
            url=final,
            sha256=sha256.hexdigest(),
            md5=md5_digest.hexdigest(),
            size=written,
            content_type=content_type,
        )


@contextlib.contextmanager
def _saving(url: str, folder: Path) -> Iterator[None]:
    """A write to the download's folder that the system refuses (a full disk, a quota) is
    a FetchError saying so, naming the folder: it was read as the connection's, "was
    truncated: the connection ended after 0 bytes ([Errno 28] No space left on device)"."""
    try:
        yield
    except OSError as exc:
        raise FetchError(
            f"Download of {url} could not be saved in {folder}: {exc.strerror or exc}", url=url
        ) from exc


def _check_zip(path: Path, url: str) -> None:
    """Raise FetchError unless ``path`` is a zip whose members pass their CRC check."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise FetchError(
            f"Download of {url} is not a readable zip file ({exc}); it may be truncated",
            url=url,
        ) from exc
    if bad is not None:
        raise FetchError(
            f"Download of {url} is a damaged zip file: member {bad} fails its CRC check",
            url=url,
        )
