"""The words text search compares, one rule for every path: the ``search_text`` a service
row keeps (written by imports and writes), the SQLite fallback's terms, the patch's ``q``
over the in-memory index and the query PostgreSQL is given. Pure Python.

Text is compared loosely (:func:`loose_key`): case, accents, apostrophes and punctuation
aside, ``&`` read as "and". So "Women’s" (a phone's apostrophe) finds "Women's", "cafe"
finds "Café" and "Kensington & Chelsea" finds "Kensington and Chelsea"; words are letters of
any script ("Москва", "মহিলা"), and "soren" finds "Søren". A word of a query
matches the start of a word of the text ("mentor" finds "mentoring"; "men" does not find
"women", nor "ham" "Lewisham"); on PostgreSQL the start of a word's stem.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_CURLY = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"', "‛": "'"})
#: letters with a mark that Unicode does not take apart (as it does é into e and ´),
#: written as English readers type them without it: "Søren" → "soren", "Straße" (case
#: folded) → "strasse", "Łódź" → "lodz"; and the apostrophes a word may hold, left out
_LETTERS = str.maketrans(
    {
        "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
        "ħ": "h", "ŧ": "t", "ŋ": "n", "ĸ": "k", "'": "", "’": "", "‘": "", "‛": "", "ʼ": "",
    }
)  # fmt: skip


#: characters that are not seen and part no words: a soft hyphen (Word's optional hyphen,
#: "men\u00adtoring" as pasted from a document), the joiners and a byte-order mark
_INVISIBLE = str.maketrans(dict.fromkeys("\u00ad\u200c\u200d\u2060\ufeff"))


def loose_key(text: str, *, compatibility: bool = True) -> str:
    """Text compared loosely: case, accents, apostrophes, punctuation and spacing ignored
    ("Victims' & witnesses" → "victims and witnesses"; "Women’s" → "womens"; "Søren" →
    "soren"). Letters of every script are words ("Москва" → "москва", "মহিলা সমিতি" as
    written): before 6 December only a-z and 0-9 were, so a name in another script had
    no words at all (and two such organisations had the same empty key).

    Letters written in a compatibility form are read as their plain letters, in lower case
    as every other: "𝐁𝐮𝐬 Stop" (styled text pasted from social media) → "bus stop", "ℍ" →
    "h", "™" → "tm". Until migration 0023 they were made plain after their case was
    folded, so they kept capitals ("Bus stop"), which SQLite's index and PostgreSQL
    lower-cased and the patch's ``q`` did not. ``compatibility=False`` is that earlier
    rule, which the digests in ids keep (``directory.ingest.values.slug``).

    Characters that are not seen (a soft hyphen, a zero-width joiner or non-joiner, a word
    joiner, a byte-order mark) are left out, joining what they stand in: "men\u00adtoring"
    is "mentoring" (until migration 0025 they parted words, "men toring", so text pasted
    from a document with optional hyphens was not found by its words)."""
    if compatibility and not text.isascii():  # ("𝐁𝐮𝐬" may now be ASCII: "Bus")
        text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE))
    if text.isascii():  # (most text: one regular expression)
        text = text.casefold().replace("&", " and ").replace("'", "")
        return " ".join(_NOT_WORD.sub(" ", text).split())
    text = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    text = unicodedata.normalize(
        "NFC", "".join(c for c in text if not unicodedata.combining(c))
    ).replace("&", " and ")
    # a word is letters, digits and the marks some scripts write inside words (Bengali's
    # vowel signs); anything else parts them
    return " ".join(
        "".join(
            c if c.isalnum() or unicodedata.category(c)[0] == "M" else " " for c in text
        ).split()
    )


def folded(text: str) -> str:
    """``text`` with its accents taken off and curly quotes made straight, everything else
    (a query's quotes, ``-`` and ``or``) as it was: the terms the SQLite fallback's rank
    looks for in a description as written, so that "café" counts a "cafe" there."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_CURLY))
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def indexed(text: str) -> str:
    """Text as a row's ``search_text`` keeps it (and the patch's index reads it): its loose
    words, each after a space, so that `` word`` finds a word's start."""
    return " " + loose_key(text)


#: words a query's single words leave out, as PostgreSQL's English text search does (a
#: few of its stop words: those in names, "&" among them once read as "and")
STOP_WORDS = frozenset(("a", "an", "and", "at", "by", "for", "in", "of", "on", "the", "to", "with"))


_TERMS = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    exclude: bool


def _parts(text: str) -> list[tuple[Term, bool]]:
    """A query's parts as typed, in order: each a term (a word or a ``"phrase"``, its
    spacing made single, ``-`` read as excluding it) and whether it is an unquoted ``or``
    (``-or`` too: websearch syntax reads it as a word excluded, the SQLite fallback not at all)."""
    parts = []
    for match in _TERMS.finditer(text.translate(_CURLY)):
        if match.group(2) is not None:
            body, exclude = " ".join(match.group(2).split()), match.group(1) == "-"
            parts.append((Term(body, exclude), False))
        else:
            body, exclude = match.group(4), match.group(3) == "-"
            parts.append((Term(body.strip('"'), exclude), body.lower() == "or"))
    return parts


def parse_terms(text: str) -> list[Term]:
    """The terms of a query as typed: words, ``"phrases"`` and ``-excluded`` ones; ``or``
    (websearch syntax on PostgreSQL) is dropped, as are empty phrases."""
    return [term for term, is_or in _parts(text) if term.text and not is_or]


def query_terms(query: str | None) -> list[Term]:
    """A query's terms as the text keeps its words: each loose (a term of several words,
    "drop-in" or a phrase, one piece), those that are a stop word or no word at all left
    out, as PostgreSQL's English text search leaves them. What the SQLite fallback and the
    patch's ``q`` compare; none left: nothing matches."""
    terms = []
    for term in parse_terms(query or ""):
        loose = loose_key(term.text)
        if loose and loose not in STOP_WORDS:
            terms.append(Term(loose, term.exclude))
    return terms


def matches(terms: list[Term], text: str) -> bool:
    """Whether ``text`` (as :func:`indexed` keeps it) has each term at a word's start, and
    none of the excluded ones; no terms: False (a query with no words finds nothing)."""
    return bool(terms) and all((" " + t.text in text) != t.exclude for t in terms)


@dataclass(frozen=True, slots=True)
class TsTerm:
    """A term of a query for PostgreSQL: its loose words as ``to_tsquery`` text, each
    quoted, a phrase's joined by ``<->`` (``'drop' <-> 'in'``), and whether it is excluded."""

    words: str
    exclude: bool


def tsquery_terms(query: str) -> list[list[TsTerm]]:
    """A query as PostgreSQL's text search is given it: alternatives (parted by a bare
    ``or``, as ``websearch_to_tsquery`` reads it: "a b or c" is a and b, or c), each the
    terms all needed; each term made loose as the rows' words were ("drop-in" → "drop
    in", "O'Brien" → "obrien"), ``-term`` excluded, stop words left out, an alternative
    with no terms dropped; none at all: [] (which matches nothing). The repository matches
    a term by its words' English stems, or by the words as typed starting a word
    (``directory.store.repositories.search``). The words hold only letters, digits and
    marks, so quoting each is all the escaping there is to do."""
    alternatives: list[list[TsTerm]] = [[]]
    for term, is_or in _parts(query):
        if is_or and not term.exclude:  # a bare "or": what follows is another alternative
            alternatives.append([])
            continue
        loose = loose_key(term.text)
        if loose and loose not in STOP_WORDS:  # ("&" is "and": PostgreSQL's stop word too)
            words = " <-> ".join("'" + word + "'" for word in loose.split())
            alternatives[-1].append(TsTerm(words, term.exclude))
    return [terms for terms in alternatives if terms]


@dataclass(frozen=True, slots=True)
class NameWord:
    """A word a search of names looks for: in lower case as typed (for refs and programme
    names) and its loose words (for the names and titles kept loose)."""

    text: str
    loose: str
    #: ``-word``: what has it is left out (as a service's ``q`` reads it)
    exclude: bool = False


def name_words(query: str | None) -> list[NameWord]:
    """The words a search of names (organisations', grants' titles and parties') looks for
    each of: the query's words, stop words and bare punctuation left out ("Barking &
    Dagenham" and "Barking and Dagenham" → barking, dagenham). An organisation's name and a
    grant's title are kept as their loose words (``search_name``, ``search_title``), and a
    word must start one of them, as a service's ``q`` compares ("cafe" finds "Café",
    "women’s" "Women's", "soren" "Søren", "haven" "Kingston Haven"; "ham" not "Lewisham");
    a programme's name the same way (made loose when asked: the programmes are few); a
    grant's ref is looked inside as written, the word in lower case ("edge-" finds
    "EDGE-PLANNED-G"). A word after ``-`` leaves out what has it ("youth -lambeth"), as a
    service's ``q`` reads it; a query of only such words finds what has none of them."""
    words = []
    for word in (query or "").translate(_CURLY).casefold().split():
        exclude = word.startswith("-")
        word = word.lstrip("-") if exclude else word
        # by its loose words, as query_terms judges: "ʼ" is no word (its loose words
        # empty, it found every name), "the’" a stop word
        loose = loose_key(word)
        if loose and loose not in STOP_WORDS:
            words.append(NameWord(word, loose, exclude))
    return words
