"""Parsers for the messy values people type into spreadsheets.

Every ``parse_*`` function accepts what ``csv`` and ``openpyxl`` hand over (``str``, ``int``,
``float``, ``Decimal``, ``date``, ``datetime``) and either returns a clean Python value or raises
``ValueError`` with a short plain-English message. The message is shown to a council officer
next to the row and column it came from, so it names the bad value and says how to write it.
Blank input is an error too: a caller that allows a blank checks :func:`clean_text` first.

Dates written in words go to ``python-dateutil``'s parser, month arithmetic is dateutil's
``relativedelta``, Excel serial numbers are read by ``openpyxl.utils.datetime.from_excel`` and
email addresses are checked by ``email-validator``; the functions here add the plain-English
messages and the few rules of UK spreadsheets those libraries do not know (each kept rule says
why next to it).

No Flask, no SQLAlchemy.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import math
import re
import sys
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from dateutil.parser import parser, parserinfo
from dateutil.relativedelta import relativedelta
from email_validator import EmailNotValidError
from email_validator.syntax import validate_email_domain_name, validate_email_local_part

from directory.store.words import loose_key

#: what a spreadsheet cell can hold once ``csv`` or ``openpyxl`` has read it
Cell = str | int | float | Decimal | date | datetime | None

__all__ = [
    "Cell",
    "add_months",
    "average_months",
    "clean_text",
    "excel_serial_date",
    "financial_year_of",
    "london_today",
    "months_between",
    "parse_age_range",
    "parse_amount",
    "parse_bool",
    "parse_date",
    "parse_email",
    "parse_end_date",
    "parse_financial_year",
    "parse_int",
    "parse_url",
    "parse_verified",
    "split_list",
    "unstorable",
    "unstorable_in",
    "whole_months",
    "why_not_json",
]

# characters that are invisible but break comparisons: BOM, zero-width space/joiners, word
# joiner, soft hyphen
_INVISIBLE = re.compile("[\ufeff\u200b\u200c\u200d\u2060\u00ad]")
_LONGEST_SHOWN = 60
#: control characters that are not whitespace (``str.split``, so :func:`clean_text`, turns a
#: vertical tab or form feed, as Word's soft line break, into a space), DEL, and the
#: non-characters U+FFFE and U+FFFF: nothing a person types, invisible, and not XML (the
#: Atom feeds) but DEL
_CONTROL = re.compile("[\x01-\x08\x0e-\x1b\x7f\ufffe\uffff]")


# -- text ---------------------------------------------------------------------------------------


#: the most digits before or after the point a number is written out in (:func:`clean_text`)
_PLAIN_DIGITS = 40


def clean_text(value: Cell) -> str | None:
    """The value as tidy text, or None when it is blank.

    Removes byte-order marks and zero-width characters, turns every run of whitespace
    (including non-breaking spaces and new lines) into one space and strips the ends. Whole
    numbers that a spreadsheet stored as floats (``1123456.0``) come back without the ``.0``.
    Dates become ISO text (``2021-04-01``; a datetime keeps its time unless it is midnight).
    """
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, Decimal) and value.is_finite():
        # in plain figures, as a spreadsheet shows them; one too large or too small to write
        # out as the file gave it (JSON's 1e999999999 would be a billion digits)
        text = format(value, "f") if abs(value.adjusted()) <= _PLAIN_DIGITS else str(value)
    elif isinstance(value, datetime):
        if value.time() == datetime.min.time() and value.tzinfo is None:
            text = value.date().isoformat()
        else:
            text = value.isoformat(sep=" ")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    text = " ".join((text if text.isascii() else _INVISIBLE.sub("", text)).split())
    return text or None


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, in words for the person who wrote it (to follow "the
    text" or "the cell"), or None when it can. What no text may hold: a NUL character
    (PostgreSQL text cannot) and half of a UTF-16 surrogate pair on its own (JSON's
    ``"\\ud800"``): not Unicode text, so UTF-8, and neither database, can hold it (Python
    joins a pair as it decodes, so a surrogate left in a ``str`` is one that cannot be
    stored). Nor any other control character that is not whitespace, nor U+FFFE or
    U+FFFF (:data:`_CONTROL`): invisible, typed by no one, and a feed (XML) cannot carry
    them. Checked in C for text that is printable, as nearly all is, and by a regular
    expression only for text that is not: a 100,000-row sheet asks for every row."""
    if "\x00" in text:
        return (
            "holds a NUL character (an invisible control character, code 0), which cannot "
            "be stored: delete it"
        )
    if not text.isprintable() and (control := _CONTROL.search(text)) is not None:
        return (
            f"holds an invisible control character (code {ord(control.group())}), which "
            "cannot be shown or published: delete it"
        )
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return (
            f"holds a damaged character (\\u{ord(text[error.start]):04x}, half of a two-part "
            "character such as an emoji, without its other half), which cannot be stored: "
            "type the text again"
        )
    return None


def why_not_json(error: BaseException) -> str:
    """Why ``json.loads`` refused a text, in words for the person who sent it (to follow
    "… is not valid JSON: "): where the syntax broke, nesting too deep, or a number with
    more digits than Python reads (its own message names ``sys.set_int_max_str_digits``)."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno}, column {error.colno}"
    if isinstance(error, RecursionError):
        return "it is nested too deeply"
    if "integer string conversion" in str(error):
        return f"a number in it has more than {sys.get_int_max_str_digits():,} digits"
    return str(error)


def unstorable_in(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Each text in a parsed JSON value (its members' names too) that cannot be stored, as
    (where it is, why): the where a path like ``sites[0].name`` below ``path``; a member
    name that cannot be stored is shown escaped (``na\\u0000me``). In document order."""
    stack: list[tuple[str, object]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            why = unstorable(item)
            if why is not None:
                yield where, why
        elif isinstance(item, dict):
            members = []
            for key, member in item.items():
                name = str(key)
                why = unstorable(name)
                shown = name if why is None else json.dumps(name)[1:-1]
                inner = f"{where}.{shown}" if where else shown
                if why is not None:
                    yield inner, f"has a name that {why}"
                members.append((inner, member))
            stack.extend(reversed(members))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(f"{where}[{n}]", member) for n, member in enumerate(item)]))


def _shown(value: Cell) -> str:
    """The value as quoted in an error message: cleaned, shortened, in single quotes."""
    text = clean_text(value) or ""
    if len(text) > _LONGEST_SHOWN:
        text = text[: _LONGEST_SHOWN - 1] + "…"
    return f"'{text}'"


def _required_text(value: Cell, blank_message: str) -> str:
    text = clean_text(value)
    if text is None:
        raise ValueError(blank_message)
    return text


# -- money --------------------------------------------------------------------------------------

_AMOUNT_HINT = "write it like £45,000, 45k or 1.2m"
_MULTIPLIERS = {
    "": Decimal(1),
    "k": Decimal(1_000),
    "thousand": Decimal(1_000),
    "m": Decimal(1_000_000),
    "mn": Decimal(1_000_000),
    "mil": Decimal(1_000_000),
    "million": Decimal(1_000_000),
    "bn": Decimal(1_000_000_000),
    "b": Decimal(1_000_000_000),
    "billion": Decimal(1_000_000_000),
}
_AMOUNT = re.compile(
    r"""^(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?   # 1,200,000 or 45,000.50
        |\d+(?:\.\d+)?                            # 1200000 or 1.2
        |\.\d+)                                   # .5
        \s*(?P<multiplier>k|thousand|mn|m|mil|million|bn|b|billion)?$""",
    re.VERBOSE,
)
_OTHER_CURRENCY = re.compile(r"[$€¥₹]|\b(?:usd|eur|euros?|dollars?|yen)\b")
_RANGE = re.compile(r"\d\s*(?:k|m|bn|thousand|million)?\s*(?:-|–|—|\bto\b)\s*(?:£|gbp)?\s*\d")
#: the largest amount accepted (£1 trillion): far above any grant, small enough for Decimal
_MOST_MONEY = Decimal(10) ** 12


def parse_amount(value: Cell) -> Decimal:
    """An amount of money in pounds, to the penny.

    Accepts ``£1,200,000``, ``1.2m``, ``£45k``, ``45,000.50``, ``GBP 1000``, ``1000 GBP``,
    ``£ 2,500``, ``1.5 million``, ``250 thousand``, ``£2bn`` and plain numbers. Rejects
    negative amounts, other currencies and ranges such as ``10-20k``.
    """
    if isinstance(value, bool | date):
        raise ValueError(f"{_shown(value)} is not an amount of money; {_AMOUNT_HINT}")
    if isinstance(value, int | float | Decimal):
        return _checked_amount(value, value)
    text = _required_text(value, f"No amount given; {_AMOUNT_HINT}")
    lowered = text.casefold()
    if _OTHER_CURRENCY.search(lowered):
        raise ValueError(
            f"{_shown(text)} is not in pounds; give amounts in pounds sterling, like £45,000"
        )
    if _RANGE.search(lowered):
        raise ValueError(f"{_shown(text)} is a range; give a single amount, {_AMOUNT_HINT}")
    negative = False
    body = lowered
    if body.startswith("(") and body.endswith(")"):  # accountants' negative: (£500)
        negative, body = True, body[1:-1].strip()
    body = re.sub(r"^gbp|gbp$|\bpounds?$", "", body).strip()
    if body.startswith("-"):
        negative, body = True, body[1:].strip()
    body = body.removeprefix("£").strip()
    if body.startswith("-"):
        negative, body = True, body[1:].strip()
    match = _AMOUNT.match(body)
    if match is None:
        raise ValueError(f"{_shown(text)} is not an amount of money; {_AMOUNT_HINT}")
    if negative:
        raise ValueError(f"{_shown(text)} is negative; amounts must be £0 or more")
    number = Decimal(match["number"].replace(",", ""))
    return _checked_amount(number * _MULTIPLIERS[match["multiplier"] or ""], text)


def _checked_amount(number: int | float | Decimal, shown: Cell) -> Decimal:
    try:
        amount = Decimal(str(number)) if isinstance(number, float) else Decimal(number)
    except (InvalidOperation, ValueError):  # pragma: no cover - Decimal accepts all numbers
        raise ValueError(f"{_shown(shown)} is not an amount of money; {_AMOUNT_HINT}") from None
    if not amount.is_finite():
        raise ValueError(f"{_shown(shown)} is not an amount of money; {_AMOUNT_HINT}")
    if amount < 0:
        raise ValueError(f"{_shown(shown)} is negative; amounts must be £0 or more")
    if amount >= _MOST_MONEY:
        raise ValueError(f"{_shown(shown)} is too large to be an amount of money in pounds")
    pennies = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount and not pennies:  # (it was stored as £0, a grant of nothing)
        raise ValueError(f"{_shown(shown)} is less than a penny: amounts are in pounds")
    return pennies


# -- dates --------------------------------------------------------------------------------------

_LONDON = ZoneInfo("Europe/London")
_DATE_HINT = "write it like 01/04/2021, 1 April 2021 or 2021-04-01"
_FIRST_YEAR, _LAST_YEAR = 1900, 2100
_EXCEL_SERIALS = (20_000, 80_000)  # 1954-10-03 .. 2119-01-10: plausible dates only
# The ISO and day-first patterns below are kept hand-written on purpose, as fast paths in front
# of dateutil: (1) nearly every cell is one of these two shapes, read here in ~5 µs where
# dateutil's parser takes 40-50 µs (measured); (2) dateutil with dayfirst=True silently falls
# back to month first when the day-first reading is impossible ("04/13/2021" becomes 13 April),
# and a UK sheet must reject that instead ("there is no month 13"); (3) dateutil guesses the
# missing parts of an all-digit date ("2021-04" becomes a day in April, "1/4" the 1st of April
# this year, "1/4-2021" 1 April 2021), which are rejected here. So text of digits and
# separators is only read by these patterns; dateutil reads the dates written with a month name.
_ISO = re.compile(
    r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?$",
    re.IGNORECASE,
)
_COMPACT_ISO = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_DAY_FIRST = re.compile(r"^(?P<d>\d{1,2})(?P<sep>[/.\-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})$")
_TRAILING_TIME = re.compile(r"\s+\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\.\d+)?\s*(?:[ap]\.?m\.?)?$")
_SERIAL = re.compile(r"^\d+(?:\.\d+)?$")
_LETTERS = re.compile(r"[^\W\d_]+")
_FULL_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
_SHORT_YEAR_LAST = re.compile(r"(?<![\d:])(\d{2})$")
#: a day of the month in a written date, once its year is taken out
_DAY_NUMBER = re.compile(r"(?<!\d)\d{1,2}(?!\d)")
#: a quarter or season, refused as such (which day of it is meant is a guess)
_PERIOD = re.compile(r"\b(?:q[1-4]|quarter|spring|summer|autumn|fall|winter)\b", re.IGNORECASE)


class _UkDateInfo(parserinfo):
    """dateutil's tables of names, reading numbers day first, with the weekday abbreviations
    people write in the UK ("Tues", "Weds", "Thurs") besides dateutil's three-letter ones."""

    WEEKDAYS = [
        ("Mon", "Monday"),
        ("Tue", "Tues", "Tuesday"),
        ("Wed", "Weds", "Wednesday"),
        ("Thu", "Thur", "Thurs", "Thursday"),
        ("Fri", "Friday"),
        ("Sat", "Saturday"),
        ("Sun", "Sunday"),
    ]

    def __init__(self) -> None:
        super().__init__(dayfirst=True)


_DATE_INFO = _UkDateInfo()
_DATE_PARSER = parser(_DATE_INFO)
# a written date without a day is the first of the month; the year always comes from the text
_FIRST_OF_MONTH = datetime(2000, 1, 1)


class MonthCell(datetime):
    """A workbook's date cell that shows a month and year alone (a number format such as
    ``mmm-yy``: what Excel makes of "Mar-27" or "March 2027" typed into a cell). Its value
    is the month's first day, but no day was given: read as a month alone, as the same
    text in a text cell is (an end, a deadline, is the month's last day). Made by the
    workbook reader (:mod:`directory.ingest.readers`); anything else takes it as the
    datetime it is."""

    @classmethod
    def of(cls, value: datetime) -> MonthCell:
        return cls(value.year, value.month, 1)

    def __str__(self) -> str:  # as the cell shows it, and as a problem names it
        return f"{self:%b %Y}"


@functools.lru_cache(maxsize=256)
def shows_month_alone(number_format: str) -> bool:
    """Whether a workbook number format shows a date as its month and year alone
    (``mmm-yy``, ``mmmm yyyy``, ``[$-809]mm/yyyy``): month and year codes, no day, hour or
    second (its quoted text, bracketed parts and escaped characters aside)."""
    section = number_format.split(";")[0]
    code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", section).lower()
    return "m" in code and "y" in code and not any(c in code for c in "dhs")


def parse_date(value: Cell, *, month_end: bool = False) -> date:
    """A calendar date.

    Accepts date and datetime objects; ISO text (``2021-04-01``, ``2021-04-01T00:00:00Z``,
    ``2021-04-01 00:00``, ``20210401``); UK day-first text (``01/04/2021``, ``1/4/21``,
    ``1.4.2021``, ``01-04-2021``), always read day first; written dates (``1 April 2021``,
    ``1st April 2021``, ``April 1, 2021``, ``01-Apr-21``); a month alone (``April 2021``,
    ``Apr 2021``, or a workbook's date cell showing a month alone: :class:`MonthCell`)
    meaning its first day, or with ``month_end`` its last (an end date:
    :func:`parse_end_date`); and Excel serial numbers between 20000 and 80000 (``44287`` is
    2021-04-01). Two-digit years below 70 are 20xx, the rest 19xx. Only years 1900 to 2100
    are accepted. A time of day, or a time zone, is ignored. A year alone, a quarter or a
    season ("Q1 2027", "Spring 2027") is refused: which day it means is a guess.
    """
    if isinstance(value, MonthCell):
        day = value.date()
        if month_end:
            day = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        return _checked_year(day, value)
    if isinstance(value, datetime):
        return _checked_year(value.date(), value)
    if isinstance(value, date):
        return _checked_year(value, value)
    if isinstance(value, bool):
        raise ValueError(f"{_shown(value)} is not a date; {_DATE_HINT}")
    if isinstance(value, int | float | Decimal):
        return _from_serial(value, value)
    text = _required_text(value, f"No date given; {_DATE_HINT}")
    # kept: dateutil reads a lone year as 1 January of it; a grant date needs the day
    if re.fullmatch(r"\d{4}", text):
        raise ValueError(f"{_shown(text)} is only a year; give the day and month too, {_DATE_HINT}")
    if _SERIAL.match(text) and not _COMPACT_ISO.match(text):
        return _from_serial(Decimal(text), text)
    if match := _ISO.match(text) or _COMPACT_ISO.match(text):
        return _make_date(int(match["y"]), int(match["m"]), int(match["d"]), text)
    bare = _TRAILING_TIME.sub("", text)
    if match := _DAY_FIRST.match(bare):
        year = _full_year(match["y"])
        return _make_date(year, int(match["m"]), int(match["d"]), text)
    return _written_date(bare, text, month_end)


def parse_end_date(value: Cell) -> date:
    """The date something ends, as :func:`parse_date` but for a month alone, which is its
    last day: a grant that ends "March 2027" runs to 31 March 2027 (read as the 1st, it
    lost a month, and showed as ending soon a month early)."""
    return parse_date(value, month_end=True)


def london_today() -> date:
    """Today in London's calendar (in summer it begins at 23:00 UTC)."""
    return datetime.now(_LONDON).date()


def parse_verified(value: Cell, *, today: date | None = None) -> date:
    """A date someone checked a record (Last verified, ``last_verified``): as
    :func:`parse_date`, and not in the future. Tomorrow in London's calendar is allowed,
    for a clock a little ahead of the server's; later is a mistake (2030 for 2020), which
    would keep the record from ever being flagged stale."""
    verified = parse_date(value)
    latest = (today or london_today()) + timedelta(days=1)
    if verified > latest:
        raise ValueError(
            f"{verified.isoformat()} is after today: a verification cannot be in the "
            "future. Give the date the record was last checked."
        )
    return verified


def _from_serial(number: int | float | Decimal, shown: Cell) -> date:
    """A date from an Excel serial number (1900 date system)."""
    if isinstance(number, float | Decimal) and not math.isfinite(number):
        raise ValueError(f"{_shown(shown)} is not a date; {_DATE_HINT}")
    low, high = _EXCEL_SERIALS
    if not low <= number <= high:
        raise ValueError(
            f"{_shown(shown)} is a number, not a date; {_DATE_HINT} "
            f"(Excel date numbers between {low} and {high} are also understood)"
        )
    return _checked_year(excel_serial_date(int(number)), shown)


def excel_serial_date(serial: int) -> date:
    """The date an Excel serial number stands for in the 1900 date system (read by openpyxl).

    Serial 1 is 1900-01-01. Excel believes 1900 was a leap year: its imaginary 1900-02-29,
    serial 60, is read as 1900-02-28, and serial 61 onwards are right (61 is 1900-03-01).
    """
    # openpyxl is imported here so that callers that never see a serial do not pay for it
    from openpyxl.utils.datetime import from_excel

    # kept: from_excel reads serials below 1 as a time of day, not a date
    if serial < 1:
        raise ValueError(f"'{serial}' is not an Excel date number (they start at 1)")
    return from_excel(int(serial)).date()


def _full_year(text: str) -> int:
    """A year as written: two digits below 70 are 20xx, the rest 19xx (kept rather than
    dateutil's rule, within 50 years of today, which moves every year and already reads 70 as
    2070)."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _make_date(year: int, month: int, day: int, shown: Cell) -> date:
    if not 1 <= month <= 12:
        raise ValueError(
            f"{_shown(shown)} is not a date: there is no month {month} "
            f"(dates are read day first, like 31/01/2021)"
        )
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(
            f"{_shown(shown)} is not a date between {_FIRST_YEAR} and {_LAST_YEAR}; {_DATE_HINT}"
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(_no_such_day(shown, year, month)) from None


def _no_such_day(shown: Cell, year: int, month: int) -> str:
    days = calendar.monthrange(year, month)[1]
    return (
        f"{_shown(shown)} is not a real date: {calendar.month_name[month]} {year} has {days} days"
    )


def _checked_year(result: date, shown: Cell) -> date:
    if not _FIRST_YEAR <= result.year <= _LAST_YEAR:
        raise ValueError(
            f"{_shown(shown)} is not a date between {_FIRST_YEAR} and {_LAST_YEAR}; {_DATE_HINT}"
        )
    return result


def _written_date(text: str, shown: Cell, month_end: bool = False) -> date:
    """A date written with its month as a word (``1st April 2021``, ``April 1 2021``,
    ``01-Apr-21``, ``Thursday 1 April 2021``, ``April 2021``), read by dateutil; a month
    alone is its first day, or with ``month_end`` its last."""
    # Kept: three checks around dateutil, because it guesses whatever the text leaves out and
    # a guessed date on a grant is worse than a question to the officer:
    # 1. dateutil takes a missing month from its default ("1st 2021" would be 1 January), so
    #    the text must name a month (one in dateutil's own table of names);
    words = _LETTERS.findall(text)
    months = [_DATE_INFO.month(word) for word in words]
    month = next((number for number in months if number is not None), None)
    if month is None:
        if _PERIOD.search(text):
            raise ValueError(
                f"{_shown(shown)} is a period, not a date: give the day it means, {_DATE_HINT}"
            )
        raise ValueError(f"{_shown(shown)} is not a date; {_DATE_HINT}")
    # 2. a two-digit year written last ("01-Apr-21", "april-21") is made four digits here,
    #    with this module's fixed pivot; dateutil would read "april-21" as 21 April of this
    #    year, and swaps numbers when one cannot be a day ("32 Jan 21" would be 21 Jan 2032);
    text = _SHORT_YEAR_LAST.sub(lambda match: str(_full_year(match[1])), text)
    # 3. so there must be exactly one four-digit year, and it must be the year dateutil read
    #    (in "0 1 April 2021" it reads 2021 as the time 20:21 and the year from its default).
    years = _FULL_YEAR.findall(text)
    if not years:
        raise ValueError(f"{_shown(shown)} has no year; {_DATE_HINT}")
    if len(years) > 1:
        raise ValueError(f"{_shown(shown)} is not a date; {_DATE_HINT}")
    year = int(years[0])
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(
            f"{_shown(shown)} is not a date between {_FIRST_YEAR} and {_LAST_YEAR}; {_DATE_HINT}"
        )
    try:
        parsed = _DATE_PARSER.parse(text, default=_FIRST_OF_MONTH, ignoretz=True)
    except (ValueError, OverflowError) as error:  # dateutil's ParserError is a ValueError
        if "out of range" in str(error):  # "day is out of range for month: 31 February 2021"
            raise ValueError(_no_such_day(shown, year, month)) from None
        raise ValueError(f"{_shown(shown)} is not a date; {_DATE_HINT}") from None
    if parsed.year != year:
        raise ValueError(f"{_shown(shown)} is not a date; {_DATE_HINT}")
    # 4. a month alone is its first day, or its last for an end; dateutil moves a weekday
    #    with no day of the month to the first such day ("Sat March 2027" was 6 March)
    if not _DAY_NUMBER.search(text.replace(years[0], "", 1)):
        if any(_DATE_INFO.weekday(word) is not None for word in words):
            raise ValueError(
                f"{_shown(shown)} names a weekday but no day of the month; {_DATE_HINT}"
            )
        if month_end:
            return date(year, month, calendar.monthrange(year, month)[1])
    return parsed.date()


# -- numbers and yes/no -------------------------------------------------------------------------

_INTEGER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0*)?$")


#: the largest whole number a cell may give (and the smallest, negated): what the
#: database's INTEGER columns hold (PostgreSQL's are 4 bytes), so that no figure read is
#: refused by the database in the middle of an import
INT_MOST = 2**31 - 1


def parse_int(value: Cell) -> int:
    """A whole number: ``12``, ``12.0``, ``" 1,200 "``, of at most INT_MOST either way.
    Rejects ``12.5`` and words."""
    hint = "write it in figures, like 12 or 1,200"
    if isinstance(value, bool | date):
        raise ValueError(f"{_shown(value)} is not a whole number; {hint}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite:  # (math.isfinite takes a Decimal as a float: 1e999 is infinite)
            raise ValueError(f"{_shown(value)} is not a whole number; {hint}")
        # compared before int() (1e999999999's has a billion digits), and not by abs(),
        # which rounds in the decimal context, and overflows
        if not -INT_MOST <= value <= INT_MOST:
            raise ValueError(_too_large(value))
        if value != int(value):
            raise ValueError(f"{_shown(value)} is not a whole number; {hint}")
        number = int(value)
    else:
        text = _required_text(value, f"No number given; {hint}")
        if not _INTEGER.match(text):
            raise ValueError(f"{_shown(text)} is not a whole number; {hint}")
        number = capped_int(text.replace(",", "").split(".")[0], INT_MOST)
    if abs(number) > INT_MOST:
        raise ValueError(_too_large(value))
    return number


def capped_int(digits: str, most: int) -> int:
    """``int(digits)`` ("-12", "+0042"), or one past ``most`` either way when ``digits``
    has more figures than ``most``: int() refuses over 4,300 digits (leading zeros
    included), in Python's words, and a number of thousands of figures is far past any a
    cell may give anyway."""
    figures = digits.lstrip("+-").lstrip("0")  # (int() counts leading zeros too)
    sign = -1 if digits.startswith("-") else 1
    return sign * (int(figures or "0") if len(figures) <= len(str(most)) else most + 1)


def _too_large(value: Cell) -> str:
    return f"{_shown(value)} is too large a number; at most {INT_MOST:,}"


_TRUE = {"yes", "y", "true", "t", "1", "x", "✓", "✔"}
_FALSE = {"no", "n", "false", "f", "0"}


def parse_bool(value: Cell) -> bool:
    """Yes or no: ``yes``/``no``, ``y``/``n``, ``true``/``false``, ``1``/``0``, or ``x`` (a
    ticked box) for yes; any case."""
    hint = "write yes or no"
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal) and value in (0, 1):
        return bool(value)
    text = _required_text(value, f"No yes/no answer given; {hint}")
    word = text.casefold()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{_shown(text)} is not yes or no; {hint}")


# -- ages ---------------------------------------------------------------------------------------

_AGE_HINT = "write it like 11-25, 18+, under 18 or all ages"
_OLDEST = 120
_ALL_AGES = {"all", "all ages", "any", "any age", "everyone", "no age limit", "no limit"}
_AGE_NOISE = re.compile(r"\b(?:aged|ages|age|years?|yrs?|year olds?|y/?o|olds?)\b")


def parse_age_range(value: Cell) -> tuple[int | None, int | None]:
    """The youngest and oldest ages served; None where there is no limit.

    ``11-25``, ``11 to 25`` and ``11–25`` give (11, 25); ``18+`` and ``18 and over`` give
    (18, None); ``over 18`` is read as in everyday use (``over-18s``), also (18, None);
    ``under 18`` gives (None, 17); ``up to 25`` and ``25 and under`` give (None, 25);
    ``all ages`` gives (None, None); ``16`` gives (16, 16). Ages above 120, or a youngest
    age above the oldest, are rejected.
    """
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        age = parse_int(value)
        return _checked_ages(age, age, value)
    text = _required_text(value, f"No ages given; {_AGE_HINT}")
    words = text.casefold().replace("–", "-").replace("—", "-").replace("‑", "-")
    if words in _ALL_AGES:
        return None, None
    words = _AGE_NOISE.sub(" ", words)
    words = re.sub(r"(\d)\s*'?s\b", r"\1", words)  # "18s", "18's"
    words = " ".join(words.split())
    if words in _ALL_AGES:
        return None, None
    if m := re.fullmatch(r"(\d+) ?(?:-|to) ?(\d+)", words):
        return _checked_ages(int(m[1]), int(m[2]), text)
    if m := re.fullmatch(
        r"(\d+) ?(?:\+|plus|and over|and above|or over|or older|and older)", words
    ):
        return _checked_ages(int(m[1]), None, text)
    if m := re.fullmatch(r"(?:over|from) (\d+)", words):
        return _checked_ages(int(m[1]), None, text)
    if m := re.fullmatch(r"under (\d+)", words):
        return _checked_ages(None, int(m[1]) - 1, text)
    if m := re.fullmatch(r"(?:up to|upto|to) (\d+)|(\d+) (?:and under|or under|or younger)", words):
        return _checked_ages(None, int(m[1] or m[2]), text)
    if m := re.fullmatch(r"\d+", words):
        return _checked_ages(int(words), int(words), text)
    raise ValueError(f"{_shown(text)} is not an age range; {_AGE_HINT}")


def _checked_ages(
    youngest: int | None, oldest: int | None, shown: Cell
) -> tuple[int | None, int | None]:
    for age in (youngest, oldest):
        if age is not None and not 0 <= age <= _OLDEST:
            raise ValueError(f"{_shown(shown)} is not an age range: ages go from 0 to {_OLDEST}")
    if youngest is not None and oldest is not None and youngest > oldest:
        raise ValueError(
            f"{_shown(shown)} is not an age range: the youngest age is above the oldest"
        )
    return youngest, oldest


# -- lists --------------------------------------------------------------------------------------

_LIST_SEPARATORS = re.compile(r"[;|,\n\r]+")


def split_list(value: Cell) -> list[str]:
    """The items of a list typed into one cell, separated by ``;``, ``|``, ``,`` or new lines.

    Each item is cleaned (see :func:`clean_text`); blanks are dropped and repeats (ignoring
    case) are kept once, in first-seen order. ``&`` and ``and`` do not separate items, so
    ``Kensington & Chelsea`` stays whole. None or a blank cell gives an empty list.
    """
    if value is None:
        return []
    if not isinstance(value, str):
        text = clean_text(value)
        return [text] if text else []
    items: list[str] = []
    seen: set[str] = set()
    for part in _LIST_SEPARATORS.split(value):
        item = clean_text(part)
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            items.append(item)
    return items


# -- contact details ----------------------------------------------------------------------------

_DOMAIN_LABEL = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$")


def parse_email(value: Cell) -> str:
    """An email address, checked by ``email-validator`` (without looking the domain up), with
    the domain normalised (lower-cased) and the part before ``@`` kept as written. A leading
    ``mailto:`` or surrounding ``<>`` is removed."""
    hint = "write it like name@example.org"
    text = _required_text(value, f"No email address given; {hint}")
    address = text.removeprefix("mailto:").removeprefix("MAILTO:").strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1].strip()
    # kept: the two commonest mistakes get their own message ("it has a space", "it needs one
    # @"); email-validator says "It must have exactly one @-sign" for both
    if " " in address:
        raise ValueError(f"{_shown(text)} is not an email address: it has a space; {hint}")
    if address.count("@") != 1:
        raise ValueError(f"{_shown(text)} is not an email address: it needs one @; {hint}")
    local, domain = address.split("@")
    # The two halves go to email-validator's checks for each part (email_validator.syntax, what
    # its validate_email runs) rather than to validate_email, because (1) its messages do not
    # always say which half is wrong ("cannot have two periods in a row"), and (2) the domain
    # check is most of its cost (measured: ~44 µs of ~60, the part before @ ~1 µs) and the same
    # few domains come back row after row, so each domain's verdict is remembered: a parse
    # here costs ~5-9 µs where validate_email costs 30-90 µs on a 10,000-row import.
    # validate_email's normalised address is not used either: it lower-cases role names
    # ("Info@" becomes "info@"), and the part before @ is kept as written.
    try:
        validate_email_local_part(local)
    except EmailNotValidError:
        raise ValueError(
            f"{_shown(text)} is not an email address: the part before @ is not valid; {hint}"
        ) from None
    try:
        domain = _email_domain(domain)
    except EmailNotValidError:
        raise ValueError(
            f"{_shown(text)} is not an email address: the part after @ must be a domain that "
            f"can receive email, like example.org"
        ) from None
    return f"{local}@{domain}"


@functools.lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str:
    """The domain of an email address as email-validator normalises it; raises
    EmailNotValidError if it cannot receive email (no dot, bad characters, ``.test``)."""
    return str(validate_email_domain_name(domain)["domain"])


def parse_url(value: Cell) -> str:
    """A web address (http or https). A bare ``www.example.org`` becomes
    ``https://www.example.org``; the scheme and host are lower-cased. Rejects other schemes
    (``javascript:``, ``mailto:``, ``ftp:``), spaces and addresses without a host."""
    hint = "write it like https://www.example.org"
    text = _required_text(value, f"No web address given; {hint}")
    if " " in text:
        raise ValueError(f"{_shown(text)} is not a web address: it has a space; {hint}")
    url = text
    if "://" in url:
        scheme = url.split("://", 1)[0].casefold()
        if scheme not in ("http", "https"):
            raise ValueError(
                f"{_shown(text)} is not a web address: only http and https links are allowed"
            )
    elif url.startswith("//"):
        url = "https:" + url
    elif re.match(r"^[a-z][a-z0-9+.\-]*:(?!\d)", url, re.IGNORECASE):
        raise ValueError(
            f"{_shown(text)} is not a web address: only http and https links are allowed"
        )
    else:
        url = "https://" + url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port number
    except ValueError:
        raise ValueError(f"{_shown(text)} is not a web address; {hint}") from None
    labels = host.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise ValueError(
            f"{_shown(text)} is not a web address: it needs a site name like example.org; {hint}"
        )
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, parts.fragment)
    )


# -- financial years and grant lengths ----------------------------------------------------------

_FY_HINT = "write it like 2021/22"
_FINANCIAL_YEAR = re.compile(r"^(\d{4}|\d{2})\s*[/\-–]\s*(\d{4}|\d{2})$")


def parse_financial_year(value: Cell) -> str:
    """A UK financial year as ``2021/22``, from ``2021/22``, ``2021-22``, ``2021/2022``,
    ``FY2021/22``, ``FY 21/22`` or ``21/22``. A date gives the financial year it falls in.
    The two years must be consecutive."""
    if isinstance(value, date):
        return financial_year_of(value)
    text = _required_text(value, f"No financial year given; {_FY_HINT}")
    body = re.sub(r"^(?:fy|f/y|financial year)\s*:?\s*", "", text.casefold())
    match = _FINANCIAL_YEAR.match(body)
    if match is None:
        raise ValueError(f"{_shown(text)} is not a financial year; {_FY_HINT}")
    first = _full_year(match[1])
    second_text = match[2]
    second = int(second_text)
    follows = second == first + 1 if len(second_text) == 4 else second == (first + 1) % 100
    if not follows:
        raise ValueError(
            f"{_shown(text)} is not a financial year: the second year must follow the first; "
            f"{_FY_HINT}"
        )
    if not _FIRST_YEAR <= first < _LAST_YEAR:
        raise ValueError(
            f"{_shown(text)} is not a financial year between {_FIRST_YEAR} and {_LAST_YEAR}"
        )
    return f"{first}/{(first + 1) % 100:02d}"


def financial_year_of(day: date) -> str:
    """The UK financial year (1 April to 31 March) a date falls in: 2021-04-01 to
    2022-03-31 is ``2021/22``."""
    first = day.year if day.month >= 4 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later (or earlier, for a negative number), kept
    within shorter months (31 January plus one month is 28 or 29 February)."""
    return day + relativedelta(months=months)


def whole_months(start: date, end: date) -> int:
    """The whole calendar months from ``start`` to ``end``: 2025-07-01 to 2026-06-01 is 11,
    2025-07-15 to 2025-08-14 is 0."""
    gap = relativedelta(end, start)
    return gap.years * 12 + gap.months


@functools.lru_cache(maxsize=4096)
def months_between(start: date, end: date) -> int:
    """How many whole months a grant from ``start`` to ``end`` (both days included) runs,
    rounded to the nearest month and at least 1: 2021-04-01 to 2022-03-31 is 12 months,
    2021-04-01 to 2021-04-30 is 1. Raises ValueError if ``end`` is before ``start``.

    Calendar months: the whole months from ``start`` to the day after ``end`` (dateutil's
    ``relativedelta``), plus one more if the days left over are at least half of the next
    month. :func:`average_months` is the other way of counting, used where no dates are kept.
    """
    if isinstance(start, datetime):
        start = start.date()
    if isinstance(end, datetime):
        end = end.date()
    if end < start:
        raise ValueError(
            f"The end date {end.isoformat()} is before the start date {start.isoformat()}"
        )
    after_end = end + timedelta(days=1)
    gap = relativedelta(after_end, start)  # whole years and months, then days left over
    months = gap.years * 12 + gap.months
    reached = after_end - timedelta(days=gap.days)  # start + months
    month_length = (start + relativedelta(months=months + 1) - reached).days
    if 2 * gap.days >= month_length:
        months += 1
    return max(1, months)


def check_duration(
    duration: int, start: date | None, end: date | None, *, name: str, dates: str
) -> None:
    """Raise ValueError, saying why, when a grant's duration in months cannot stand beside
    its dates: fewer than one month, or more than a month from the months between
    ``start`` and ``end`` (:func:`months_between`; when both are given, the end not before
    the start). ``name`` is what the reader calls the duration ("Duration (months)"), and
    ``dates`` the start and end ("the Start and End dates").

    The duration is what counts a grant as running three years or more: 36 given for a
    year's dates made a one-year grant meet the target, and 0 was taken as given."""
    if duration <= 0:
        raise ValueError(
            f"{name}: {duration} is not a number of months; a grant runs for at least one "
            f"(leave it blank to work it out from {dates})."
        )
    if start is None or end is None or end < start:
        return
    months = months_between(start, end)
    if abs(duration - months) > 1:
        raise ValueError(
            f"{name} is {duration}, but {dates} ({start.isoformat()} to {end.isoformat()}) "
            f"are {months} months apart: correct one of them, or leave {name} blank to work "
            "it out from the dates."
        )


#: the average length of a month in days (365.25 / 12)
_AVERAGE_MONTH_DAYS = 30.4375


def average_months(start: date, end: date) -> int:
    """The time from ``start`` to ``end`` in months of average length (30.4375 days), rounded
    to the nearest whole month (a half to the even one, as ``round`` does) and never below 0.

    ``end`` is not included: for a grant running 2021-04-01 to 2022-03-31 pass the day after
    its end, 2022-04-01 (12 months). This is what the API answers with for ``months_left`` and
    for ``duration_months`` of grants imported without a duration; an imported duration is
    :func:`months_between`, counted in calendar months, and the two can differ by a month.
    """
    return max(0, round((end - start).days / _AVERAGE_MONTH_DAYS))


#: the rule ids were made by before 6 December (``loose_key`` then): accents taken off and
#: every other letter outside a-z dropped ("Søren" → "sren"); kept for ids, so that a name
#: gets the id it always had
_NOT_ID_WORD = re.compile(r"[^a-z0-9]+")


def _id_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.casefold().replace("&", " and ").replace("'", "")
    return _NOT_ID_WORD.sub(" ", text).split()


def slug(text: str) -> str:
    """A stable id made from text, of letters a-z, digits and hyphens: "Safer London" →
    "safer-london" (at most 80 characters), by the rule ids have always been made by (a
    letter with no plain form dropped: "Søren Trust" → "sren-trust"), so that a name keeps
    its id from release to release. A word wholly in another script is left out of it, and
    a digest of the name's words follows ("Bangla মহিলা Centre" → "bangla-centre-…",
    "মহিলা সমিতি" → "name-…"): before 6 December names differing only there had one id
    ("Москва Fund" and "Berlin Fund" both "fund"), and every name with no word in a-z or
    0-9 was "unnamed". Text with no words at all ("—") is named by a digest of it; empty
    text is "unnamed"."""
    plain = "-".join(_id_words(text))[:80]
    # (the loose words of 5 December, a compatibility form's capitals kept: an id's digest
    # is what it was)
    words = loose_key(text, compatibility=False).split()
    if all(any(c.isascii() for c in word) for word in words):
        if plain or not text.strip():
            return plain or "unnamed"
        words = [" ".join(text.split())]  # (punctuation only)
    digest = hashlib.blake2s(" ".join(words).encode(), digest_size=6).hexdigest()
    return f"{plain[:66]}-{digest}" if plain else f"name-{digest}"
