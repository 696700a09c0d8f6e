"""Tolerant matching of area names typed by people.

Areas are identified by code (GSS codes, BCU ids); names are only for display and for
resolving what a user typed: "Kingston", "Royal Borough of Kingston upon Thames",
"RB Kingston upon Thames" and "kingston-upon-thames" all resolve to E09000021.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections.abc import Container, Iterable
from pathlib import Path

__all__ = ["normalise_name", "NameMatcher", "london_name_matcher", "default_aliases"]

SCORE_EXACT = 100
SCORE_LEADING_WORDS = 90
SCORE_STARTS_WITH = 80
SCORE_WORD_PREFIX = 70
SCORE_SUBSTRING = 50
#: a name is taken only when it is an area's name or alias, or its leading whole words
#: ("Kingston" for Kingston upon Thames): a bare prefix ("Green" for Greenwich) or a later
#: word ("Walthamstow" for Upper Walthamstow) is a guess, offered as a suggestion only
RESOLVE_MIN_SCORE = SCORE_LEADING_WORDS

# Removed from the start of a normalised name (longest first), repeatedly.
_PREFIXES = (
    "city and county of the",
    "london borough of",
    "royal borough of",
    "borough of",
    "the",
    "lb",
    "rb",
)
# Removed from the end of a normalised name, repeatedly.
_SUFFIXES = (
    "london borough council",
    "borough council",
    "city council",  # Westminster City Council
    "council",
    "corporation",  # the City of London Corporation
    "london borough",
    "basic command unit",
    "bcu",
)
_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise_name(text: str) -> str:
    """Reduce an area name to a comparable key.

    Case-folds, strips accents, turns "&" into "and", drops apostrophes and other
    punctuation, writes "saint"/"st." as "st", collapses spaces, and removes common
    prefixes and suffixes ("London Borough of", "Royal Borough of", "LB", "RB", "the",
    "City and County of the", "Borough Council", "City Council", "Council", "Corporation",
    "BCU").

    Parameters
    ----------
    text : str
        A name as typed or published.

    Returns
    -------
    str
        The normalised key, e.g. ``"kingston upon thames"``; may be empty.

    Examples
    --------
    >>> normalise_name("Royal Borough of Kensington & Chelsea")
    'kensington and chelsea'
    """
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    words = _NON_WORD.sub(" ", text).split()
    words = ["st" if w == "saint" else w for w in words]
    changed = True
    while changed and words:
        changed = False
        for prefix in _PREFIXES:
            p = prefix.split()
            if len(words) > len(p) and words[: len(p)] == p:
                words = words[len(p) :]
                changed = True
                break
        for suffix in _SUFFIXES:
            s = suffix.split()
            if len(words) > len(s) and words[-len(s) :] == s:
                words = words[: -len(s)]
                changed = True
                break
    return " ".join(words)


class NameMatcher:
    """Rank areas by how well their names match a query.

    Parameters
    ----------
    entries : iterable of (code, type, name)
        One entry per area, e.g. ``("E09000021", "borough", "Kingston upon Thames")``.

    Notes
    -----
    Scores: 100 for an exact normalised name, alias or code (codes case-insensitively),
    90 when the query is a name's leading whole words, 80 when a name otherwise starts
    with it, 70 when a later word of a name starts with it, 50 when it occurs anywhere
    inside a name. A code's score is its best over its name and aliases.
    """

    def __init__(self, entries: Iterable[tuple[str, str, str]]) -> None:
        self._types: dict[str, str] = {}
        self._keys: dict[str, list[str]] = {}
        self._names: dict[str, str] = {}
        for code, area_type, name in entries:
            self._types[code] = area_type
            self._names[code] = name
            self._keys.setdefault(code, [])
            self._add_key(code, name)

    def _add_key(self, code: str, text: str) -> None:
        key = normalise_name(text)
        if key and key not in self._keys[code]:
            self._keys[code].append(key)

    def add_alias(self, code: str, alias: str) -> None:
        """Register another name for an area.

        Parameters
        ----------
        code : str
            A code given in ``entries``.
        alias : str
            Another name (normalised like the rest).

        Raises
        ------
        KeyError
            If the code is unknown.
        """
        if code not in self._keys:
            raise KeyError(code)
        self._add_key(code, alias)

    def __len__(self) -> int:
        return len(self._keys)

    def name(self, code: str) -> str:
        """Return the display name an area was registered with."""
        return self._names[code]

    def match(self, query: str, type: str | None = None) -> list[tuple[str, int]]:  # noqa: A002
        """Rank the areas matching a query.

        Parameters
        ----------
        query : str
            What the user typed: a name in any style, or a code.
        type : str, optional
            Only areas of this type ("region", "bcu", "borough", "ward").

        Returns
        -------
        list of (code, score)
            Best first; equal scores keep the order the areas were given in. Empty if
            nothing matches.
        """
        if not isinstance(query, str):
            return []
        raw = query.strip().casefold()
        q = normalise_name(query)
        if not q and not raw:
            return []
        ranked: list[tuple[str, int]] = []
        for code, keys in self._keys.items():
            if type is not None and self._types[code] != type:
                continue
            if raw == code.casefold():
                ranked.append((code, SCORE_EXACT))
                continue
            if not q:
                continue
            best = 0
            for key in keys:
                if key == q:
                    best = SCORE_EXACT
                    break
                if key.startswith(q + " "):
                    best = max(best, SCORE_LEADING_WORDS)
                elif key.startswith(q):
                    best = max(best, SCORE_STARTS_WITH)
                elif (" " + key).find(" " + q) >= 0:
                    best = max(best, SCORE_WORD_PREFIX)
                elif q in key:
                    best = max(best, SCORE_SUBSTRING)
            if best:
                ranked.append((code, best))
        ranked.sort(key=lambda item: -item[1])  # stable: ties keep input order
        return ranked

    def suggest(
        self,
        query: str,
        type: str | None = None,
        limit: int = 5,  # noqa: A002
    ) -> list[str]:
        """Codes of the areas a query may have meant, best first: those :meth:`match`
        ranks, else those whose names or aliases are spelled closest to it ("Lambth" →
        Lambeth, "Croydn" → Croydon; difflib's ratio of at least 0.75) and then those
        its words match ("Croydon Central" → Croydon)."""
        ranked = self.match(query, type)
        if ranked:
            return [code for code, _ in ranked[:limit]]
        q = normalise_name(query) if isinstance(query, str) else ""
        if not q:
            return []
        by_key: dict[str, str] = {}
        for code, keys in self._keys.items():
            if type is None or self._types[code] == type:
                for key in keys:
                    by_key.setdefault(key, code)
        found: list[str] = []
        for key in difflib.get_close_matches(q, list(by_key), n=limit * 3, cutoff=0.75):
            if by_key[key] not in found:
                found.append(by_key[key])
        # then, for a name with a word too many ("Croydon Central", "Enfield Town"), the
        # areas its words name, those named exactly first
        named = [(s, c) for w in q.split() if len(w) > 2 for c, s in self.match(w, type)]
        for _, code in sorted(named, key=lambda item: -item[0]):
            if code not in found:
                found.append(code)
        return found[:limit]

    def named(
        self,
        query: str,
        type: str | None = None,  # noqa: A002
        among: Container[str] | None = None,
    ) -> tuple[int, list[str]]:
        """The areas a query names, with the score they match at.

        Parameters
        ----------
        query : str
            Name or code.
        type : str, optional
            Only areas of this type.
        among : container of str, optional
            Only these codes (the wards of one borough, say).

        Returns
        -------
        (int, list of str)
            The best score and the codes matching at it, if it is at least
            RESOLVE_MIN_SCORE: one code, or several when the query is a name (or code)
            several areas share exactly, as wards in different boroughs do. ``(0, [])``
            when nothing is named, or when the query only begins several names ("North"):
            the start of a name is taken only when one area's name starts so.
        """
        ranked = [
            (code, score)
            for code, score in self.match(query, type)
            if among is None or code in among
        ]
        if not ranked or ranked[0][1] < RESOLVE_MIN_SCORE:
            return 0, []
        top = ranked[0][1]
        codes = [code for code, score in ranked if score == top]
        if len(codes) > 1 and top < SCORE_EXACT:
            return 0, []
        return top, codes

    def resolve(self, query: str, type: str | None = None) -> str | None:  # noqa: A002
        """Return the one area a query clearly means, or None.

        Parameters
        ----------
        query : str
            Name or code.
        type : str, optional
            Only areas of this type.

        Returns
        -------
        str or None
            The code :meth:`named` finds if it finds exactly one; otherwise None (nothing
            is named, or the name is shared).
        """
        _, codes = self.named(query, type)
        return codes[0] if len(codes) == 1 else None


def default_aliases() -> list[tuple[str, str]]:
    """Read the built-in London aliases from ``geodata/data/area_aliases.csv``.

    Returns
    -------
    list of (code, alias)
    """
    text = (Path(__file__).with_name("data") / "area_aliases.csv").read_text("utf-8")
    return [(row["code"], row["alias"]) for row in csv.DictReader(text.splitlines())]


def london_name_matcher(entries: Iterable[tuple[str, str, str]]) -> NameMatcher:
    """Build a :class:`NameMatcher` with the built-in London aliases added.

    Parameters
    ----------
    entries : iterable of (code, type, name)
        The areas; aliases for codes not among them are skipped.

    Returns
    -------
    NameMatcher
    """
    matcher = NameMatcher(entries)
    for code, alias in default_aliases():
        try:
            matcher.add_alias(code, alias)
        except KeyError:
            continue
    return matcher
