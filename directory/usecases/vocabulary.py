"""The ids a client filters by, checked against the taxonomy: an unknown theme is a 422 problem
naming it with the closest known themes as suggestions, never a silently empty answer. The
themes are ``directory/data/themes.csv`` (the same file every import loads). No Flask here."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from directory.errors import InvalidInputError, ProgrammeNotFoundError
from directory.ingest.context import TaxonomyEntry, programmes, themes
from directory.ingest.values import loose_key


def check_themes(values: Iterable[str], parameter: str = "theme") -> None:
    """Raise a 422 problem when any of ``values`` is not a theme id."""
    _check(values, themes(), parameter, "theme", "/api/v1/themes")


def _check(
    values: Iterable[str], entries: Iterable[TaxonomyEntry], parameter: str, what: str, url: str
) -> None:
    entries = tuple(entries)
    known = {e.id for e in entries}
    unknown = [v for v in dict.fromkeys(values) if v not in known]
    if not unknown:
        return
    messages = [f"No {what} has the id {value!r}." for value in unknown]
    raise InvalidInputError(
        f"{' '.join(messages)} The {what} ids are listed at {url}.",
        errors={parameter: messages},
        suggestions=[s for value in unknown for s in suggestions(value, entries)],
    )


def suggestions(value: str, entries: Iterable[TaxonomyEntry], n: int = 3) -> list[dict[str, Any]]:
    """The entries closest to ``value`` by id, name or alias (loosely compared): id and name."""
    by_key: dict[str, TaxonomyEntry] = {}
    for entry in entries:
        for key in entry.keys:
            by_key.setdefault(key, entry)
    wanted = loose_key(value)
    found: list[TaxonomyEntry] = []
    exact = by_key.get(wanted)  # an alias or a name given where the id was wanted
    if exact is not None:
        found.append(exact)
    for key in difflib.get_close_matches(wanted, list(by_key), n=n * 3, cutoff=0.5):
        if by_key[key] not in found:
            found.append(by_key[key])
    if not found:  # "violence-against-women-girls": the words of a name, not its spelling
        words = set(wanted.split())
        scored = sorted(
            ((len(words & set(key.split())), key) for key in by_key), key=lambda s: (-s[0], s[1])
        )
        found = list(dict.fromkeys(by_key[key] for score, key in scored if score))
    return [{"id": e.id, "name": e.name} for e in found[:n]]


def unknown_programme(value: str, held: dict[str, str | None]) -> ProgrammeNotFoundError:
    """The 404 for a programme id that is neither held (``held``: id → name) nor listed in
    programmes.csv, with the programmes closest to it as suggestions."""
    entries = {e.id: e for e in programmes()}
    for pid, name in held.items():
        if pid not in entries:
            keys = tuple({loose_key(pid), loose_key(name or pid)})
            entries[pid] = TaxonomyEntry(pid, name or pid, "", keys)
    return ProgrammeNotFoundError(
        f"No programme has the id {value!r}; see GET /api/v1/programmes.",
        suggestions=suggestions(value, entries.values()),
    )
