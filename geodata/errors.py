"""Exceptions raised by :mod:`geodata`.

Every error derives from :class:`GeodataError`, so callers can catch the whole family
with one ``except`` clause and map it to an answer in their own layer.
"""

from __future__ import annotations

__all__ = ["GeodataError", "InvalidPostcodeError", "DataFileError"]


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
