"""Where the value parsers hand over to maintained libraries (issue 12): python-dateutil for
written dates and month arithmetic, openpyxl for Excel serial numbers, email-validator for
addresses; and the guards kept around them, each for a reading the library would get wrong."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest

from directory.ingest.readers import read_table
from directory.ingest.values import (
    add_months,
    average_months,
    excel_serial_date,
    months_between,
    parse_date,
    parse_email,
    whole_months,
)

# -- written dates (dateutil) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Thurs 1 April 2021", date(2021, 4, 1)),  # UK weekday abbreviations
        ("Tues 6 April 2021", date(2021, 4, 6)),
        ("Weds 7 April 2021", date(2021, 4, 7)),
        ("2021 April 1", date(2021, 4, 1)),
        ("1 April 2021 3pm", date(2021, 4, 1)),
        ("1st of Sept, 21", date(2021, 9, 1)),
        ("Apr '21", date(2021, 4, 1)),
        ("21 Jan 69", date(2069, 1, 21)),  # the fixed pivot, not dateutil's moving one
        ("21 Jan 70", date(1970, 1, 21)),
    ],
)
def test_written_dates_are_read_by_dateutil(raw: str, expected: date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        # dateutil would swap the numbers: 21 January 2032
        ("32 Jan 21", "'32 Jan 21' is not a real date: January 2021 has 31 days"),
        ("Jan 32 21", "January 2021 has 31 days"),
        ("31 Feb 2021", "'31 Feb 2021' is not a real date: February 2021 has 28 days"),
        ("0004 Jan 29", "'0004 Jan 29' is not a date"),  # dateutil: 4 January 2029
        ("0 1 April 2021", "'0 1 April 2021' is not a date"),  # dateutil: 2000, at 20:21
        ("1 April 1850", "is not a date between 1900 and 2100"),
        # dateutil would take the missing month, or year, from its default
        ("1st 2021", "'1st 2021' is not a date"),
        ("21 Jan 1", "'21 Jan 1' has no year"),
        ("April 5", "'April 5' has no year"),
        ("1 April 2021 2022", "'1 April 2021 2022' is not a date"),
    ],
)
def test_guesses_dateutil_would_make_are_refused(raw: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_date(raw)
    assert fragment in str(caught.value)


# -- Excel serial numbers (openpyxl) ------------------------------------------------------------


def test_excel_serial_numbers_are_read_by_openpyxl() -> None:
    assert excel_serial_date(60) == date(1900, 2, 28)  # Excel's imaginary 29 February 1900
    assert excel_serial_date(61) == date(1900, 3, 1)
    with pytest.raises(ValueError, match="start at 1"):
        excel_serial_date(0)


# -- months (relativedelta) ---------------------------------------------------------------------


def _calendar_months(start: date, end: date) -> int:
    """months_between as first written, by counting months one at a time."""
    after_end = end + timedelta(days=1)

    def plus(months: int) -> date:
        year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
        return date(year, month + 1, min(start.day, calendar.monthrange(year, month + 1)[1]))

    months = 0
    while plus(months + 1) <= after_end:
        months += 1
    length = (plus(months + 1) - plus(months)).days
    if 2 * (after_end - plus(months)).days >= length:
        months += 1
    return max(1, months)


@pytest.mark.parametrize("start", [date(2020, 1, 31), date(2020, 2, 29), date(2021, 4, 15)])
def test_months_between_counts_calendar_months(start: date) -> None:
    for days in range(0, 800, 7):
        end = start + timedelta(days=days)
        assert months_between(start, end) == _calendar_months(start, end), end


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 6, 1), -11, date(2025, 7, 1)),  # the funding answers' 12 crime months
        (date(2021, 1, 31), 1, date(2021, 2, 28)),
        (date(2020, 3, 31), -1, date(2020, 2, 29)),
        (date(2021, 12, 15), 1, date(2022, 1, 15)),
    ],
)
def test_add_months_keeps_the_day_within_the_month(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected
    if day.day == 1:  # first days: whole_months counts back what add_months added
        assert whole_months(min(day, expected), max(day, expected)) == abs(months)


def test_whole_months_counts_only_whole_months() -> None:
    assert whole_months(date(2025, 7, 1), date(2026, 6, 1)) == 11
    assert whole_months(date(2025, 7, 15), date(2025, 8, 14)) == 0
    assert whole_months(date(2025, 7, 15), date(2025, 8, 15)) == 1


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2021, 4, 1), date(2022, 4, 1), 12),
        (date(2021, 4, 1), date(2021, 4, 1), 0),
        (date(2021, 4, 1), date(2021, 3, 1), 0),  # never below 0
        (date(2021, 2, 1), date(2021, 3, 1), 1),  # 28 days is 0.92 of an average month
        (date(2021, 1, 1), date(2021, 1, 16), 0),  # 15 days: 0.49
        (date(2021, 1, 1), date(2021, 1, 17), 1),  # 16 days: 0.53
    ],
)
def test_average_months(start: date, end: date, expected: int) -> None:
    assert average_months(start, end) == expected


def test_average_months_is_what_the_api_counted_before() -> None:
    start = date(2021, 4, 1)
    for days in range(0, 2000):
        end = start + timedelta(days=days)
        assert average_months(start, end) == max(0, round(days / 30.4375))


# -- email addresses (email-validator) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Info@Example.ORG", "Info@example.org"),  # email-validator would lower-case "Info"
        ("zoë@café.org", "zoë@café.org"),
        ("x@sub.example.co.uk", "x@sub.example.co.uk"),
    ],
)
def test_parse_email_uses_email_validator(raw: str, expected: str) -> None:
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("x.@example.org", "the part before @ is not valid"),
        ("my_x@my_site.org", "the part after @"),
        ("x@foo.test", "the part after @"),  # a special-use name, never delivered
        ("x@1.2.3.4", "the part after @"),
    ],
)
def test_parse_email_rejects_what_email_validator_rejects(raw: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_email(raw)
    assert fragment in str(caught.value)


# -- text encodings (kept hand-written) ---------------------------------------------------------


def test_valid_utf8_is_read_as_utf8() -> None:
    # charset-normalizer, even limited to UTF-8, UTF-16 and Windows-1252, reads this file as
    # Windows-1252 ("Amount (Â£)"): the reason readers._encoding stays hand-written
    text = "Borough,Amount (£)\r\nEaling Hammersmith & Fulham,€5\r\n"
    table = read_table(text.encode("utf-8"), name="a.csv")
    assert table.columns == ["Borough", "Amount (£)"]
    assert table.rows[0].values["amount"] == "€5"


def test_windows_1252_full_of_symbols_is_read() -> None:
    # charset-normalizer finds this valid Windows-1252 file too "messy" and gives no answer
    text = "Notes\r\n±\r\n€5 Café\r\n"
    table = read_table(text.encode("cp1252"), name="b.csv")
    assert [row.values["notes"] for row in table.rows] == ["±", "€5 Café"]
