"""Exceptions raised by :mod:`geodata`.

Every error derives from :class:`GeodataError`, so callers can catch the whole family
with one ``except`` clause and map it to an answer in their own layer.
"""

from __future__ import annotations

__all__ = [
    "GeodataError",
    "InvalidPostcodeError",
    "DataFileError",
    "FetchError",
    "NotPublishedError",
]


class GeodataError(Exception):
    """Root of every error raised by :mod:`geodata`."""


class InvalidPostcodeError(GeodataError, ValueError):
    """A string is not a well-formed UK postcode (or outcode).

    Raised for malformed input only; whether a well-formed postcode exists is a
    question for the postcode table, not for the parser.
    """


class DataFileError(GeodataError):
    """A data file is missing, unreadable or does not hold what it should.

    The message names the file path (or URL) and what is wrong with it.
    """


class FetchError(DataFileError):
    """A download or an API answer is not what was expected; the message names the URL.

    Raised by :mod:`geodata.fetch` for HTTP errors, timeouts, truncated or corrupt
    downloads, web pages where data was expected, ArcGIS errors returned with HTTP 200,
    and publisher files or answers whose layout no longer matches what the parser knows.

    Parameters
    ----------
    message : str
        What went wrong, naming the URL and what was expected.
    url : str, optional
        The URL concerned.
    status : int, optional
        The HTTP status of the answer, when there was one.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class NotPublishedError(FetchError):
    """The publisher publishes no such data (e.g. no 360Giving registry entry of MOPAC's):
    there is nothing to fetch, which is not a fault of the download."""
