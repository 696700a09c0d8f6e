"""The problem codes the API answers with, documented: what each means and what to do.

One registry: the codes and their statuses and titles are the error classes'
(:mod:`directory.errors`) and the web layer's own (passed in), the text is
``directory/data/problems.toml``'s. Every problem's ``type`` is ``/problems/{code}``, the
page made from an entry here (RFC 9457 §3.1.1: a type URI should lead to documentation).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

from directory.data import DATA_DIR
from directory.errors import DirectoryError, NotFoundError

#: statuses whose phrase Python 3.13 changed after RFC 9110: status → (3.13's phrase, the
#: 3.11 one the API keeps as their problems' title and in its document)
RENAMED_PHRASES = {
    413: ("Content Too Large", "Request Entity Too Large"),
    414: ("URI Too Long", "Request-URI Too Long"),
    416: ("Range Not Satisfiable", "Requested Range Not Satisfiable"),
    422: ("Unprocessable Content", "Unprocessable Entity"),
}


def phrase(status: int) -> str:
    """A status's phrase, the same on every supported Python."""
    kept = RENAMED_PHRASES.get(status)
    return HTTPStatus(status).phrase if kept is None else kept[1]


def _error_classes(root: type[DirectoryError] = DirectoryError) -> Iterator[type[DirectoryError]]:
    yield root
    for subclass in root.__subclasses__():
        yield from _error_classes(subclass)


@functools.cache
def _texts() -> dict[str, dict[str, str]]:
    with (DATA_DIR / "problems.toml").open("rb") as handle:
        return tomllib.load(handle)


def catalogue(web_codes: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """Every problem code, with its status, title, meaning and what to do, by code: the
    error classes' codes first, then ``web_codes`` (code → HTTP status, titled by the
    status's phrase). A code without a text is a KeyError (a test keeps them whole)."""
    known: dict[str, tuple[int, str]] = {}
    for error in _error_classes():
        known.setdefault(error.code, (error.status, error.title))
    for code, status in web_codes.items():
        known.setdefault(code, (status, phrase(status)))
    texts = _texts()
    return {
        code: {"code": code, "status": status, "title": title, **texts[code]}
        for code, (status, title) in known.items()
    }


def problem_type(code: str, web_codes: Mapping[str, int]) -> dict[str, Any]:
    """The entry of ``code``, or a 404 problem."""
    entry = catalogue(web_codes).get(code)
    if entry is None:
        raise NotFoundError(f"No problem has the code {code[:100]!r}.")
    return entry
