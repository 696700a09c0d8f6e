"""The parsers for messy spreadsheet cells: what they accept, and what they say when they
cannot read a value (the message is shown to a council officer)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from directory.ingest.values import (
    MonthCell,
    capped_int,
    clean_text,
    excel_serial_date,
    financial_year_of,
    loose_key,
    months_between,
    parse_age_range,
    parse_amount,
    parse_bool,
    parse_date,
    parse_email,
    parse_end_date,
    parse_financial_year,
    parse_int,
    parse_url,
    parse_verified,
    shows_month_alone,
    slug,
    split_list,
    unstorable,
    unstorable_in,
)

# -- clean_text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Youth  Club ", "Youth Club"),
        ("\ufeffService name", "Service name"),
        ("Safer\u00a0Streets", "Safer Streets"),
        ("zero\u200bwidth\u200d", "zerowidth"),
        ("line one\nline two\r\n\tthree", "line one line two three"),
        (1123456.0, "1123456"),
        (12.5, "12.5"),
        (42, "42"),
        (Decimal("45000.50"), "45000.50"),
        (Decimal("1E+40"), "1" + "0" * 40),
        # a number JSON may write that no one could read written out (a billion digits:
        # 5 s and 2 GB to make, for a file of a few bytes): as the file wrote it
        (Decimal("1e999999999"), "1E+999999999"),
        (Decimal("-1e-999999999"), "-1E-999999999"),
        (date(2021, 4, 1), "2021-04-01"),
        (datetime(2021, 4, 1), "2021-04-01"),
        (datetime(2021, 4, 1, 9, 30), "2021-04-01 09:30:00"),
        ("Kensington & Chelsea", "Kensington & Chelsea"),
    ],
)
def test_clean_text_tidies(raw: object, expected: str) -> None:
    assert clean_text(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [None, "", "   ", "\ufeff", "\u00a0\u200b", "\n\t"])
def test_clean_text_blank_is_none(raw: str | None) -> None:
    assert clean_text(raw) is None


# -- parse_amount -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("£1,200,000", "1200000.00"),
        ("1.2m", "1200000.00"),
        ("£1.2M", "1200000.00"),
        ("£45k", "45000.00"),
        ("45K", "45000.00"),
        ("45,000.50", "45000.50"),
        ("GBP 1000", "1000.00"),
        ("1000 GBP", "1000.00"),
        ("gbp1000", "1000.00"),
        ("£ 2,500", "2500.00"),
        ("1.5 million", "1500000.00"),
        ("250 thousand", "250000.00"),
        ("£2bn", "2000000000.00"),
        ("£0", "0.00"),
        ("  £12.345 ", "12.35"),
        ("£12.344", "12.34"),
        ("£0.005", "0.01"),
        (Decimal("0.00"), "0.00"),
        ("1000 pounds", "1000.00"),
        (".5", "0.50"),
        (1200, "1200.00"),
        (45000.5, "45000.50"),
        (0.1 + 0.2, "0.30"),
        (Decimal("99.999"), "100.00"),
        (1123456.0, "1123456.00"),
    ],
)
def test_parse_amount_accepts(raw: object, expected: str) -> None:
    result = parse_amount(raw)  # type: ignore[arg-type]
    assert isinstance(result, Decimal)
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -2  # always to the penny


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("£1,2x", "'£1,2x' is not an amount of money; write it like £45,000, 45k or 1.2m"),
        ("lots", "'lots' is not an amount of money"),
        ("1,20", "'1,20' is not an amount of money"),
        ("1.2.3", "is not an amount of money"),
        ("$100", "'$100' is not in pounds"),
        ("€2,000", "'€2,000' is not in pounds"),
        ("100 USD", "is not in pounds"),
        ("10-20k", "'10-20k' is a range"),
        ("£10k to £20k", "is a range"),
        ("10–20k", "is a range"),
        ("£1.2m-1.5m", "is a range"),
        ("-£500", "'-£500' is negative"),
        ("£-500", "is negative"),
        ("(£500)", "is negative"),
        (-5, "'-5' is negative"),
        (Decimal("-0.01"), "is negative"),
        (float("nan"), "'nan' is not an amount of money"),
        (float("inf"), "is not an amount of money"),
        (Decimal("NaN"), "is not an amount of money"),
        ("", "No amount given"),
        ("   ", "No amount given"),
        (None, "No amount given"),
        (True, "is not an amount of money"),
        (date(2021, 4, 1), "is not an amount of money"),
        ("1e300", "is not an amount of money"),
        (1e300, "too large"),
        ("£2000bn", "too large"),
        ("£0.004", "'£0.004' is less than a penny: amounts are in pounds"),
        (0.0049, "less than a penny"),
        (Decimal("1E-9"), "less than a penny"),
    ],
)
def test_parse_amount_rejects_with_a_helpful_message(raw: object, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_amount(raw)  # type: ignore[arg-type]
    assert fragment in str(caught.value)


def test_parse_amount_message_shortens_long_values() -> None:
    with pytest.raises(ValueError) as caught:
        parse_amount("x" * 500)
    assert len(str(caught.value)) < 150
    assert "…" in str(caught.value)


# -- parse_date ---------------------------------------------------------------------------------

APRIL_FIRST = date(2021, 4, 1)


@pytest.mark.parametrize(
    "raw",
    [
        "2021-04-01",
        "2021-4-1",
        "2021-04-01T00:00:00",
        "2021-04-01T00:00:00+00:00",
        "2021-04-01T00:00:00Z",
        "2021-04-01T23:59:59.123+01:00",
        "2021-04-01 00:00",
        "2021/04/01",
        "20210401",
        "01/04/2021",
        "1/4/2021",
        "1/4/21",
        "01/04/21",
        "1.4.2021",
        "01.04.21",
        "01-04-2021",
        "01/04/2021 00:00",
        "01/04/2021 09:30:00",
        "1 April 2021",
        "1st April 2021",
        "1st of April 2021",
        "01 Apr 2021",
        "1 APRIL 2021",
        "Thursday 1 April 2021",
        "Thu, 1st April 2021",
        "April 1 2021",
        "April 1st, 2021",
        "Apr 1, 2021",
        "01-Apr-21",
        "1-Apr-2021",
        "Apr 2021",
        "April 2021",
        "april-21",
        " \ufeff01/04/2021\u00a0",
        44287,
        44287.0,
        44287.75,
        Decimal("44287"),
        "44287",
        "44287.5",
        APRIL_FIRST,
        datetime(2021, 4, 1, 23, 59),
        datetime(2021, 4, 1, tzinfo=UTC),
    ],
)
def test_parse_date_accepts(raw: object) -> None:
    assert parse_date(raw) == APRIL_FIRST  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12/01/2022", date(2022, 1, 12)),  # day first, always
        ("02/03/2021", date(2021, 3, 2)),
        ("31/12/99", date(1999, 12, 31)),
        ("1/1/69", date(2069, 1, 1)),
        ("1/1/70", date(1970, 1, 1)),
        ("29/02/2024", date(2024, 2, 29)),
        ("Sept 2021", date(2021, 9, 1)),
        ("sep 30 2021", date(2021, 9, 30)),
        ("1 May 2021", date(2021, 5, 1)),
        (20000, date(1954, 10, 3)),
        (73415, date(2100, 12, 31)),
        ("1/1/1900", date(1900, 1, 1)),
        ("31/12/2100", date(2100, 12, 31)),
    ],
)
def test_parse_date_values(raw: object, expected: date) -> None:
    assert parse_date(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, date(1900, 1, 1)),
        (59, date(1900, 2, 28)),
        (61, date(1900, 3, 1)),  # after Excel's imaginary 29 February 1900
        (44287, date(2021, 4, 1)),
        (45658, date(2025, 1, 1)),
    ],
)
def test_excel_serial_date(serial: int, expected: date) -> None:
    assert excel_serial_date(serial) == expected


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        ("13/25/2021", ["'13/25/2021'", "no month 25", "day first"]),
        ("04/13/2021", ["'04/13/2021'", "no month 13", "day first"]),
        ("31/02/2021", ["'31/02/2021' is not a real date", "February 2021 has 28 days"]),
        ("29/02/2023", ["February 2023 has 28 days"]),
        ("31/04/2021", ["April 2021 has 30 days"]),
        ("2021-02-30", ["'2021-02-30' is not a real date"]),
        ("1/1/1850", ["'1/1/1850'", "between 1900 and 2100"]),
        ("1/1/2101", ["between 1900 and 2100"]),
        (date(1850, 1, 1), ["between 1900 and 2100"]),
        ("2021", ["'2021' is only a year"]),
        ("1 April", ["'1 April' has no year"]),
        ("next Tuesday", ["'next Tuesday' is not a date", "01/04/2021"]),
        ("banana", ["'banana' is not a date"]),
        ("1 Foo 2021", ["is not a date"]),
        ("April May 2021", ["is not a date"]),
        ("2021-04", ["is not a date"]),
        ("1/4", ["is not a date"]),
        ("1/4-2021", ["is not a date"]),
        ("123 April 2021", ["is not a date"]),
        (12, ["'12' is a number, not a date", "20000"]),
        (100000, ["is a number, not a date"]),
        (80000, ["between 1900 and 2100"]),
        (float("nan"), ["is not a date"]),
        (True, ["is not a date"]),
        ("", ["No date given"]),
        (None, ["No date given"]),
    ],
)
def test_parse_date_rejects_with_a_helpful_message(raw: object, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        parse_date(raw)  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "start", "end"),
    [
        ("March 2027", date(2027, 3, 1), date(2027, 3, 31)),
        ("Mar-27", date(2027, 3, 1), date(2027, 3, 31)),
        ("Feb 2028", date(2028, 2, 1), date(2028, 2, 29)),
        ("2027 March", date(2027, 3, 1), date(2027, 3, 31)),
        ("1 March 2027", date(2027, 3, 1), date(2027, 3, 1)),  # (a day given: that day)
        ("Mon 1 March 2027", date(2027, 3, 1), date(2027, 3, 1)),
        ("31-Mar-27", date(2027, 3, 31), date(2027, 3, 31)),
        ("01/03/2027", date(2027, 3, 1), date(2027, 3, 1)),
    ],
)
def test_a_month_alone_is_its_first_day_but_ends_on_its_last(
    raw: str, start: date, end: date
) -> None:
    """An End date of "March 2027" was read as 1 March: a grant to the end of March lost a
    month and showed as ending soon. A month alone that ends something is its last day."""
    assert (parse_date(raw), parse_end_date(raw)) == (start, end)


@pytest.mark.parametrize(
    ("number_format", "month_alone"),
    [
        ("mmm-yy", True), ("mmmm yyyy", True), ("MM/YYYY", True), ("yyyy-mm", True),
        ("[$-809]mmm yy;@", True), ('mmm "of" yyyy', True),
        ("dd/mm/yyyy", False), ("d-mmm-yy", False), ("yyyy-mm-dd h:mm", False),
        ("mm:ss", False), ("General", False), ("0.00", False), ("yyyy", False),
        ('"day" yyyy', False), ("[h]:mm", False),
    ],
)  # fmt: skip
def test_a_number_format_shows_a_month_alone_by_its_codes(
    number_format: str, month_alone: bool
) -> None:
    assert shows_month_alone(number_format) is month_alone


def test_a_date_cell_showing_a_month_alone_is_a_month_alone() -> None:
    cell = MonthCell.of(datetime(2028, 2, 1))
    assert (parse_date(cell), parse_end_date(cell)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert str(cell) == "Feb 2028" and isinstance(cell, datetime)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("Q1 2027", "'Q1 2027' is a period, not a date: give the day it means"),
        ("Spring 2027", "'Spring 2027' is a period, not a date"),
        ("autumn 2026", "is a period, not a date"),
        ("2027", "'2027' is only a year"),
        ("Sat March 2027", "'Sat March 2027' names a weekday but no day of the month"),
    ],
)
def test_a_year_period_or_weekday_without_its_day_is_refused(raw: str, says: str) -> None:
    """Which day these mean is a guess ("Sat March 2027" was read as 6 March, the first
    Saturday): each is refused, for a start as for an end, naming the forms accepted."""
    for parse in (parse_date, parse_end_date):
        with pytest.raises(ValueError) as caught:
            parse(raw)
        assert says in str(caught.value)
        assert "write it like 01/04/2021, 1 April 2021 or 2021-04-01" in str(caught.value)


def test_parse_verified_takes_up_to_tomorrow_in_london() -> None:
    """A verification is not in the future; tomorrow is allowed for a clock a little ahead."""
    today = date(2026, 12, 6)
    assert parse_verified("06/12/2026", today=today) == today
    assert parse_verified("2026-12-07", today=today) == date(2026, 12, 7)
    with pytest.raises(ValueError, match="verification cannot be in the future"):
        parse_verified("08/12/2026", today=today)


# -- parse_int / parse_bool ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (12, 12),
        (12.0, 12),
        (Decimal("12.00"), 12),
        (" 1,200 ", 1200),
        ("1,200,000", 1200000),
        ("12.0", 12),
        ("-3", -3),
        ("+7", 7),
        ("0", 0),
        (2**31 - 1, 2**31 - 1),
        ("-2,147,483,647", -(2**31) + 1),
        ("000000000000000000000000012", 12),
    ],
)
def test_parse_int_accepts(raw: object, expected: int) -> None:
    result = parse_int(raw)  # type: ignore[arg-type]
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (12.5, "'12.5' is not a whole number"),
        ("12.5", "'12.5' is not a whole number"),
        ("twelve", "'twelve' is not a whole number; write it in figures"),
        ("1,20", "is not a whole number"),
        ("12a", "is not a whole number"),
        (float("nan"), "is not a whole number"),
        (float("inf"), "is not a whole number"),
        (True, "is not a whole number"),
        ("", "No number given"),
        (None, "No number given"),
        # past what the database's INTEGER columns hold: a problem naming the cell, not
        # the database refusing the import's writes (or SQLite failing past 2**63)
        (2**31, "'2147483648' is too large a number; at most 2,147,483,647"),
        ("3,000,000,000", "is too large a number; at most 2,147,483,647"),
        ("-99999999999999999999", "is too large a number"),
        (1e300, "is too large a number"),
        (Decimal("1e999999999"), "'1E+999999999' is too large a number"),
        ("9" * 5000, "is too large a number"),  # (not Python's int() limit, in its words)
    ],
)
def test_parse_int_rejects(raw: object, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_int(raw)  # type: ignore[arg-type]
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("digits", "most", "expected"),
    [
        ("125", 1000, 125), ("-0042", 1000, -42), ("+7", 1000, 7), ("0" * 5000 + "9", 1000, 9),
        ("1001", 1000, 1001),  # (as many figures as the cap: int() reads it; the caller judges)
        ("12345", 1000, 1001), ("9" * 5000, 1000, 1001), ("-" + "9" * 5000, 1000, -1001),
    ],
)  # fmt: skip
def test_capped_int_reads_a_number_or_one_past_its_cap_without_int_s_digit_limit(
    digits: str, most: int, expected: int
) -> None:
    """The importers' whole numbers (parse_int, crime and population counts) go through
    it: a cell of thousands of digits is one past the cap, never int()'s ValueError."""
    assert capped_int(digits, most) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes", True),
        ("YES", True),
        (" Yes ", True),
        ("y", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("x", True),
        ("X", True),
        (1, True),
        (1.0, True),
        (True, True),
        ("no", False),
        ("No", False),
        ("n", False),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        (0, False),
        (False, False),
    ],
)
def test_parse_bool(raw: object, expected: bool) -> None:
    assert parse_bool(raw) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("maybe", "'maybe' is not yes or no"),
        (2, "'2' is not yes or no"),
        ("", "No yes/no answer given"),
        (None, "No yes/no answer given"),
    ],
)
def test_parse_bool_rejects(raw: object, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_bool(raw)  # type: ignore[arg-type]
    assert fragment in str(caught.value)


# -- parse_age_range ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11-25", (11, 25)),
        ("11 - 25", (11, 25)),
        ("11 to 25", (11, 25)),
        ("11–25", (11, 25)),
        ("11—25", (11, 25)),
        ("aged 11-25", (11, 25)),
        ("11-25 years", (11, 25)),
        ("11-25 year olds", (11, 25)),
        ("Ages 11 to 25", (11, 25)),
        ("18+", (18, None)),
        ("18 +", (18, None)),
        ("18 and over", (18, None)),
        ("18 years and over", (18, None)),
        ("over 18s", (18, None)),
        ("under 18", (None, 17)),
        ("Under 18s", (None, 17)),
        ("up to 25", (None, 25)),
        ("25 and under", (None, 25)),
        ("all ages", (None, None)),
        ("All Ages", (None, None)),
        ("any age", (None, None)),
        ("16", (16, 16)),
        (16, (16, 16)),
        (16.0, (16, 16)),
        ("0-120", (0, 120)),
    ],
)
def test_parse_age_range_accepts(raw: object, expected: tuple[int | None, int | None]) -> None:
    assert parse_age_range(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("25-11", "'25-11' is not an age range: the youngest age is above the oldest"),
        ("130", "'130' is not an age range: ages go from 0 to 120"),
        ("18-130", "ages go from 0 to 120"),
        ("under 0", "ages go from 0 to 120"),
        ("teenagers", "'teenagers' is not an age range; write it like 11-25"),
        ("11-", "is not an age range"),
        (16.5, "is not a whole number"),
        ("", "No ages given"),
        (None, "No ages given"),
    ],
)
def test_parse_age_range_rejects(raw: object, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_age_range(raw)  # type: ignore[arg-type]
    assert fragment in str(caught.value)


# -- split_list ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Camden; Islington", ["Camden", "Islington"]),
        ("Camden|Islington", ["Camden", "Islington"]),
        ("Camden, Islington", ["Camden", "Islington"]),
        ("Camden\nIslington\r\nHackney", ["Camden", "Islington", "Hackney"]),
        (
            "Kensington & Chelsea; Hammersmith and Fulham",
            ["Kensington & Chelsea", "Hammersmith and Fulham"],
        ),
        ("Camden;; ;Camden; camden ;Islington", ["Camden", "Islington"]),
        ("  knife\u00a0crime ;VAWG ", ["knife crime", "VAWG"]),
        ("Solo", ["Solo"]),
        ("", []),
        (" ; , | ", []),
        (None, []),
        (1123456.0, ["1123456"]),
    ],
)
def test_split_list(raw: object, expected: list[str]) -> None:
    assert split_list(raw) == expected  # type: ignore[arg-type]


# -- parse_email / parse_url --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("info@example.org", "info@example.org"),
        (" Info@Example.ORG ", "Info@example.org"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("mailto:hello@example.org", "hello@example.org"),
        ("<hello@example.org>", "hello@example.org"),
    ],
)
def test_parse_email_accepts(raw: str, expected: str) -> None:
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("info at example.org", "'info at example.org' is not an email address: it has a space"),
        ("info@@example.org", "it needs one @"),
        ("a@b@example.org", "it needs one @"),
        ("info.example.org", "it needs one @"),
        ("info@example", "'info@example' is not an email address: the part after @"),
        ("info@example.", "the part after @"),
        ("info@.org", "the part after @"),
        ("@example.org", "the part before @"),
        ("in..fo@example.org", "the part before @"),
        ("", "No email address given"),
        (None, "No email address given"),
    ],
)
def test_parse_email_rejects(raw: str | None, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_email(raw)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.example.org", "https://www.example.org"),
        ("http://example.org/path?q=1#top", "http://example.org/path?q=1#top"),
        ("www.example.org", "https://www.example.org"),
        ("example.org/services/youth", "https://example.org/services/youth"),
        ("HTTPS://WWW.Example.ORG/Path", "https://www.example.org/Path"),
        ("//example.org", "https://example.org"),
        ("example.org:8080/x", "https://example.org:8080/x"),
        (" https://example.org/ ", "https://example.org/"),
    ],
)
def test_parse_url_accepts(raw: str, expected: str) -> None:
    assert parse_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("javascript:alert(1)", "only http and https"),
        ("JavaScript:alert(1)", "only http and https"),
        ("mailto:info@example.org", "only http and https"),
        ("ftp://example.org", "only http and https"),
        ("data:text/html,hi", "only http and https"),
        ("https://exa mple.org", "'https://exa mple.org' is not a web address: it has a space"),
        ("https://", "needs a site name"),
        ("http:///path", "needs a site name"),
        ("localhost", "needs a site name"),
        ("https://example.org:99999", "is not a web address"),
        ("", "No web address given"),
        (None, "No web address given"),
    ],
)
def test_parse_url_rejects(raw: str | None, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_url(raw)
    assert fragment in str(caught.value)


# -- financial years and grant lengths ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["2021/22", "2021-22", "2021/2022", "2021-2022", "FY2021/22", "FY 2021/22", "fy21/22",
     "21/22", " 2021 / 22 ", "2021–22"],
)  # fmt: skip
def test_parse_financial_year_accepts(raw: str) -> None:
    assert parse_financial_year(raw) == "2021/22"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1999/00", "1999/00"),
        ("1999/2000", "1999/00"),
        ("99/00", "1999/00"),
        ("2009/10", "2009/10"),
        (date(2022, 3, 31), "2021/22"),
        (datetime(2022, 4, 1, 12), "2022/23"),
    ],
)
def test_parse_financial_year_values(raw: object, expected: str) -> None:
    assert parse_financial_year(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("2021/23", "'2021/23' is not a financial year: the second year must follow the first"),
        ("2021/2023", "the second year must follow the first"),
        ("2022/21", "the second year must follow the first"),
        ("2021", "'2021' is not a financial year; write it like 2021/22"),
        (2021, "is not a financial year"),
        ("last year", "is not a financial year"),
        ("", "No financial year given"),
    ],
)
def test_parse_financial_year_rejects(raw: object, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_financial_year(raw)  # type: ignore[arg-type]
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2021, 4, 1), "2021/22"),
        (date(2021, 12, 31), "2021/22"),
        (date(2022, 3, 31), "2021/22"),
        (date(2022, 4, 1), "2022/23"),
        (date(2000, 1, 1), "1999/00"),
        (date(2099, 6, 1), "2099/00"),
    ],
)
def test_financial_year_of(day: date, expected: str) -> None:
    assert financial_year_of(day) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2021, 4, 1), date(2022, 3, 31), 12),
        (date(2021, 4, 1), date(2024, 3, 31), 36),
        (date(2021, 4, 1), date(2021, 4, 30), 1),
        (date(2021, 4, 1), date(2021, 4, 1), 1),  # one day is still at least a month
        (date(2021, 4, 1), date(2022, 4, 1), 12),  # end written as the day after
        (date(2021, 4, 1), date(2021, 9, 30), 6),
        (date(2021, 4, 15), date(2022, 4, 14), 12),
        (date(2021, 1, 31), date(2021, 2, 28), 1),
        (date(2021, 4, 1), date(2021, 5, 10), 1),  # 1 month 10 days rounds down
        (date(2021, 4, 1), date(2021, 5, 20), 2),  # 1 month 20 days rounds up
        (date(2020, 2, 29), date(2021, 2, 28), 12),
        (datetime(2021, 4, 1, 9), datetime(2022, 3, 31, 17), 12),
    ],
)
def test_months_between(start: date, end: date, expected: int) -> None:
    assert months_between(start, end) == expected


def test_months_between_rejects_an_end_before_the_start() -> None:
    with pytest.raises(ValueError, match="2021-03-31 is before the start date 2021-04-01"):
        months_between(date(2021, 4, 1), date(2021, 3, 31))


# -- text that cannot be stored -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("plain", None),
        ("café 😀 \u2028", None),
        ("a\x00b", "NUL character"),
        ("\ud800", "damaged character (\\ud800"),
        ("emoji \ud83d cut", "damaged character (\\ud83d"),
        ("\ud83d\ude00", "damaged character (\\ud83d"),  # two halves never joined: not text
        ("ring\x07", "control character (code 7)"),
        ("\x1b[31mred", "control character (code 27)"),
        ("del\x7f", "control character (code 127)"),
        ("\ufffe", "control character (code 65534)"),
        ("a\x07\ud800", "control character (code 7)"),  # the first reason found
        ("tab\tline\nfeed\r\n", None),  # whitespace clean_text reads
        ("Word's soft\x0bbreak\x0c\x1c\x1f", None),  # whitespace too: clean_text's spaces
        ("no\u00a0break \u2028", None),
    ],
)
def test_unstorable_says_why_text_cannot_be_stored(text: str, words: str | None) -> None:
    why = unstorable(text)
    assert why is None if words is None else words in (why or "")


def test_unstorable_in_names_each_text_by_its_path_in_document_order() -> None:
    document = {"a": "x\x00", "b": ["ok", "\ud800", {"c\x00d": "\udc00"}], "e": "\U0001f600"}
    found = [(path, why.split(" (")[0]) for path, why in unstorable_in(document)]
    assert found == [
        ("a", "holds a NUL character"),
        ("b[1]", "holds a damaged character"),
        ("b[2].c\\u0000d", "has a name that holds a NUL character"),
        ("b[2].c\\u0000d", "holds a damaged character"),
    ]
    assert list(unstorable_in("\x00", "grants[0]"))[0][0] == "grants[0]"
    assert list(unstorable_in({"deep": [[["\x00"]]]}))[0][0] == "deep[0][0][0]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Victims' & witnesses", "victims and witnesses"),
        ("Women\u2019s Caf\u00e9", "womens cafe"),
        ("S\u00f8ren Kierkegaard Stra\u00dfe", "soren kierkegaard strasse"),
        ("\u00c6r\u00f8 \u0152uvre \u0141\u00f3d\u017a \u0110or\u0111e \u00de\u00f3r", "aero oeuvre lodz dorde thor"),
        ("\u0130stanbul \ufb01ne x\u00b2", "istanbul fine x2"),
        ("\u041c\u043e\u0441\u043a\u0432\u0430 \u0446\u0435\u043d\u0442\u0440", "\u043c\u043e\u0441\u043a\u0432\u0430 \u0446\u0435\u043d\u0442\u0440"),
        ("\u039f\u03bc\u03ac\u03b4\u03b1", "\u03bf\u03bc\u03b1\u03b4\u03b1"),  # Greek: case and accent aside
        ("\u09ae\u09b9\u09bf\u09b2\u09be \u09b8\u09ae\u09bf\u09a4\u09bf", "\u09ae\u09b9\u09bf\u09b2\u09be \u09b8\u09ae\u09bf\u09a4\u09bf"),  # vowel signs kept in the word
        ("\ud55c\uad6d\uc5b4", "\ud55c\uad6d\uc5b4"),  # Hangul taken apart and put together again
        ("Drop\u2013in \u2014 \u201cYouth  Club\u201d", "drop in youth club"),
        ("\u2014 \U0001f52a \u2022", ""),
        # letters in a compatibility form, plain and in lower case as every other (their
        # capitals were kept until migration 0023), "ǣ" and "ǿ" typed as their letters are
        ("\U0001d401\U0001d42e\U0001d42c Stop \u210daven Kids\u2122", "bus stop haven kidstm"),
        ("\u01e3 \u01ff \uff07s", "ae o s"),
        # characters not seen join what they stand in (they parted words until 0025): a
        # soft hyphen, the joiners, a word joiner, a byte-order mark
        ("\ufeffMen\u00adtoring for young\u2060people", "mentoring for youngpeople"),
        ("\u0645\u06cc\u200c\u0634\u0648\u062f caf\u00e9\u200d", "\u0645\u06cc\u0634\u0648\u062f cafe"),
    ],
)  # fmt: skip
def test_loose_key_keeps_every_script_and_types_latin_letters_plainly(
    text: str, expected: str
) -> None:
    assert loose_key(text) == expected


def test_slug_is_ascii_stable_and_tells_names_in_other_scripts_apart() -> None:
    # the id a name has always had (a letter with no plain form dropped, as before)
    assert slug("Safer London") == "safer-london" and slug("S\u00f8ren Trust") == "sren-trust"
    assert slug("Community Fund 2023\u201324") == "community-fund-202324"
    bengali, arabic = (
        slug("\u09ae\u09b9\u09bf\u09b2\u09be \u09b8\u09ae\u09bf\u09a4\u09bf"),
        slug("\u0645\u0631\u0643\u0632"),
    )
    assert bengali.startswith("name-") and arabic.startswith("name-") and bengali != arabic
    assert bengali == slug(
        "  \u09ae\u09b9\u09bf\u09b2\u09be   \u09b8\u09ae\u09bf\u09a4\u09bf "
    )  # the same words, the same id
    mixed = slug("Bangla \u09ae\u09b9\u09bf\u09b2\u09be Centre")
    assert mixed.startswith("bangla-centre-") and mixed != slug(
        "Bangla \u09b8\u09ae\u09bf\u09a4\u09bf Centre"
    )
    assert all(len(slug(t * 40)) <= 80 for t in ("ab ", "\u09ae ", "ab \u09ae "))
    assert slug("\u2014").startswith("name-") and slug("\u2014") != slug("?")  # no words
    assert slug("") == slug("  ") == "unnamed" and slug("x" * 100) == "x" * 80
    assert slug("\u041c\u043e\u0441\u043a\u0432\u0430 Fund").startswith("fund-")  # not "fund"
    assert all(c.isascii() for c in bengali + mixed)
    # a digest is of the words as they were made until migration 0023 (a compatibility
    # form's capitals kept: "Bus"), so a name keeps its id
    styled = "\U0001d401\U0001d42e\U0001d42c \u09ae\u09b9\u09bf\u09b2\u09be"  # 𝐁𝐮𝐬 মহিলা
    digest = hashlib.blake2s("Bus \u09ae\u09b9\u09bf\u09b2\u09be".encode(), digest_size=6)
    assert slug(styled) == f"bus-{digest.hexdigest()}"
