"""UK postcode parsing: canonical and display forms.

A postcode has an outward code (``SW1A``) and an inward code (``1AA``). The canonical
form is upper case without a space (``SW1A1AA``), the display form has one space before
the inward code (``SW1A 1AA``). Parsing checks the format only, with the Royal Mail letter
restrictions that are cheap to express; whether a postcode exists is a data question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import overload

from geodata.errors import InvalidPostcodeError

__all__ = [
    "Postcode", "parse_postcode", "parse_outcode", "display_form", "spaced_form",
    "MAX_INPUT_LENGTH",
]  # fmt: skip

#: Longest input accepted before whitespace is removed (longer is rejected outright).
MAX_INPUT_LENGTH = 16

# Letters allowed in each position (Royal Mail / Cabinet Office BS7666 rules):
_FIRST = "A-PR-UWYZ"  # not Q, V, X
_SECOND = "A-HK-Y"  # not I, J, Z
_THIRD = "A-HJKPSTUW"  # A9A form
_FOURTH = "ABEHMNPRVWXY"  # AA9A form
_INWARD_LETTER = "ABD-HJLNP-UW-Z"  # not C, I, K, M, O, V

OUTCODE_PATTERN = (
    rf"(?:[{_FIRST}][0-9]{{1,2}}"  # A9, A99
    rf"|[{_FIRST}][{_SECOND}][0-9]{{1,2}}"  # AA9, AA99
    rf"|[{_FIRST}][0-9][{_THIRD}]"  # A9A
    rf"|[{_FIRST}][{_SECOND}][0-9][{_FOURTH}]"  # AA9A
    r"|GIR)"
)
INCODE_PATTERN = rf"[0-9][{_INWARD_LETTER}]{{2}}"

_POSTCODE_RE = re.compile(rf"(?P<out>{OUTCODE_PATTERN})(?P<in>{INCODE_PATTERN})")
_OUTCODE_RE = re.compile(OUTCODE_PATTERN)
#: a hyphen for the space ("SW1A-1AA"), or the plus a form or a query string writes for it
#: and a path keeps ("SW1A+1AA")
_HYPHENED_RE = re.compile(rf"{OUTCODE_PATTERN}[-+]{INCODE_PATTERN}")
#: whitespace, and the invisible characters text pasted from web pages and documents
#: brings: zero-width space, non-joiner and joiner, word joiner, byte-order mark
_WHITESPACE_RE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]+")
#: punctuation a postcode copied out of a sentence or a list brings at either end
#: ("SW1A 1AA.", "(SW1A 1AA)", "SW1A 1AA,")
_AROUND = ".,;:!?\"'()[]<>“”‘’"
#: what a value that is not text is called, in JSON's terms (what clients send)
_JSON_KINDS = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
               list: "a list", tuple: "a list", dict: "an object"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Postcode:
    """A well-formed UK postcode.

    Attributes
    ----------
    canonical : str
        Upper case, no space, e.g. ``"SW1A1AA"``. Use this as a key.
    display : str
        Upper case with one space before the inward code, e.g. ``"SW1A 1AA"``.
    outcode : str
        The outward code, e.g. ``"SW1A"``.
    incode : str
        The inward code, e.g. ``"1AA"``.
    """

    canonical: str
    display: str
    outcode: str
    incode: str


def _squash(text: object, what: str) -> str:
    if not isinstance(text, str):
        kind = _JSON_KINDS.get(type(text), type(text).__name__)
        raise InvalidPostcodeError(f"A {what} must be text, not {kind}.")
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidPostcodeError(
            f"That is too long to be a {what} ({len(text)} characters; "
            f"a UK {what} has at most {8 if what == 'postcode' else 4} letters and digits)."
        )
    squashed = _WHITESPACE_RE.sub("", text).upper().strip(_AROUND)
    if ("-" in squashed or "+" in squashed) and _HYPHENED_RE.fullmatch(squashed):
        squashed = squashed[:-4] + squashed[-3:]  # "SW1A-1AA", "SW1A+1AA": for the space
    if not squashed:
        raise InvalidPostcodeError(f"No {what} given.")
    return squashed


def parse_postcode(text: str) -> Postcode:
    """Parse a UK postcode written with any case and spacing.

    Parameters
    ----------
    text : str
        For example ``" sw1a  1aa "``, ``"sw1a1aa"`` or ``"SW1A 1AA"``. Whitespace anywhere
        is ignored, and so are zero-width spaces and byte-order marks, punctuation at either
        end (``"SW1A 1AA."``, ``"(SW1A 1AA)"``) and a hyphen or a plus for the space
        (``"SW1A-1AA"``; ``"SW1A+1AA"``, a form's encoding kept in a path).
        The special postcode ``GIR 0AA`` is accepted.

    Returns
    -------
    Postcode
        The canonical and display forms and the two halves.

    Raises
    ------
    InvalidPostcodeError
        If ``text`` is not a string, is longer than 16 characters, or is not in the UK
        postcode format (outward code A9, A99, AA9, AA99, A9A or AA9A, then an inward
        code 9AA), with a plain-English message.

    Examples
    --------
    >>> parse_postcode(" sw1a  1aa ").display
    'SW1A 1AA'
    """
    squashed = _squash(text, "postcode")
    match = _POSTCODE_RE.fullmatch(squashed)
    if match is None and _OUTCODE_RE.fullmatch(squashed):
        raise InvalidPostcodeError(
            f"'{squashed}' is an outcode (a postcode's first half), not a whole postcode: "
            "a postcode looks like 'SW1A 1AA'."
        )
    if match is None:
        raise InvalidPostcodeError(
            f"'{text.strip()}' is not a valid UK postcode. A postcode looks like "
            "'SW1A 1AA': an outward code of 2 to 4 letters and digits, then a digit "
            "and two letters."
        )
    outcode, incode = match.group("out"), match.group("in")
    if outcode == "GIR" and incode != "0AA":
        raise InvalidPostcodeError(f"'{text.strip()}' is not a valid UK postcode.")
    return Postcode(
        canonical=outcode + incode,
        display=f"{outcode} {incode}",
        outcode=outcode,
        incode=incode,
    )


def parse_outcode(text: str) -> str:
    """Parse a postcode outward code (district), e.g. ``"sw1a"``.

    Parameters
    ----------
    text : str
        The outward code in any case, whitespace ignored.

    Returns
    -------
    str
        The canonical (upper-case) outward code, e.g. ``"SW1A"``.

    Raises
    ------
    InvalidPostcodeError
        If ``text`` is not an outward code (A9, A99, AA9, AA99, A9A, AA9A or GIR).
    """
    squashed = _squash(text, "outcode")
    if _OUTCODE_RE.fullmatch(squashed) is None:
        raise InvalidPostcodeError(
            f"'{text.strip()}' is not a valid UK postcode district (outward code). "
            "An outward code looks like 'SW1A', 'E1' or 'CR0'."
        )
    return squashed


def display_form(canonical: str) -> str:
    """Return the display form of a canonical postcode.

    Parameters
    ----------
    canonical : str
        A postcode without spaces, e.g. ``"SW1A1AA"`` (any case, validated).

    Returns
    -------
    str
        ``"SW1A 1AA"``.

    Raises
    ------
    InvalidPostcodeError
        If ``canonical`` is not a well-formed postcode.
    """
    return parse_postcode(canonical).display


@overload
def spaced_form(text: str) -> str: ...
@overload
def spaced_form(text: None) -> None: ...
def spaced_form(text: str | None) -> str | None:
    """Return a postcode as people write it, or ``text`` as given when it is not one.

    The one place a held postcode (canonical, ``"SW1A1AA"``) is spaced for an answer, an
    export or a report: the API's sites, the OGC features, Open Referral's ``postal_code``,
    the template's Site postcode, a data refresh's examples.

    Parameters
    ----------
    text : str or None
        A postcode in any case and spacing (``"sw1a1aa"``, ``" SW1A  1AA "``), or anything
        else a record may hold.

    Returns
    -------
    str or None
        ``"SW1A 1AA"`` for a whole postcode; ``text`` unchanged for anything else: an
        outcode alone (``"SW1A"``), text that is not a postcode, an empty string, None.

    Examples
    --------
    >>> spaced_form("sw1a1aa")
    'SW1A 1AA'
    >>> spaced_form("SW1A")
    'SW1A'
    """
    if not text:
        return text
    match = _POSTCODE_RE.fullmatch(text)
    if match is not None and match["out"] != "GIR":  # held canonical: the usual, quick case
        return f"{match['out']} {match['in']}"
    try:
        return parse_postcode(text).display
    except InvalidPostcodeError:
        return text
