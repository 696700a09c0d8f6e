"""The words text search compares, one rule for every path: the ``search_text`` a service
row keeps (written by imports and writes), the SQLite fallback's terms, the patch's ``q``
over the in-memory index and the query PostgreSQL is given. Pure Python.

Text is compared loosely (:func:`loose_key`): case, accents, apostrophes and punctuation
aside, ``&`` read as "and". So "Women’s" (a phone's apostrophe) finds "Women's", "cafe"
finds "Café" and "Kensington & Chelsea" finds "Kensington and Chelsea". A word of a query
matches the start of a word of the text ("mentor" finds "mentoring"; "men" does not find
"women", nor "ham" "Lewisham"), as PostgreSQL's stemmed words match whole words.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_CURLY = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"', "‛": "'"})


def loose_key(text: str) -> str:
    """Text compared loosely: case, accents, apostrophes, punctuation and spacing ignored
    ("Victims' & witnesses" → "victims and witnesses"; "Women’s" → "womens")."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.casefold().replace("&", " and ").replace("'", "")
    return " ".join(_NOT_WORD.sub(" ", text).split())


def folded(text: str) -> str:
    """``text`` with its accents taken off and curly quotes made straight, everything else
    (a query's quotes, ``-`` and ``or``) as it was: what PostgreSQL's text search is given,
    so that "café" finds the "cafe" a row keeps."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_CURLY))
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def indexed(text: str) -> str:
    """Text as a row's ``search_text`` keeps it (and the patch's index reads it): its loose
    words, each after a space, so that `` word`` finds a word's start."""
    return " " + loose_key(text)


def starts_a_word(words: str, text: str) -> bool:
    """Whether ``words`` (loose, one or more) start a word of ``text`` (as :func:`indexed`
    keeps it), in order, one after the other."""
    return " " + words in text


#: words a query's single words leave out, as PostgreSQL's English text search does (a
#: few of its stop words: those in names, "&" among them once read as "and")
STOP_WORDS = frozenset(("a", "an", "and", "at", "by", "for", "in", "of", "on", "the", "to", "with"))


def query_words(query: str | None) -> list[str]:
    """The loose words of a query each of which must start a word (the patch's ``q``),
    its stop words left out."""
    return [word for word in loose_key(query or "").split() if word not in STOP_WORDS]


def name_words(query: str | None) -> list[str]:
    """The words a search of names (organisations', grants' titles and parties') looks for
    each of inside the names as written: the query's words in lower case, curly quotes made
    straight ("Women’s" → women's), stop words and bare punctuation left out ("Barking &
    Dagenham" and "Barking and Dagenham" → barking, dagenham). Those names are not kept as
    loose words, so punctuation inside a word counts ("100%") and an accent is needed."""
    return [
        word
        for word in (query or "").translate(_CURLY).casefold().split()
        if word not in STOP_WORDS and any(c.isalnum() for c in word)
    ]
