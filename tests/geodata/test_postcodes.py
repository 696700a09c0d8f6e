import pytest

from geodata.errors import GeodataError, InvalidPostcodeError
from geodata.postcodes import Postcode, display_form, parse_outcode, parse_postcode, spaced_form


@pytest.mark.parametrize(
    ("text", "canonical", "display", "outcode"),
    [
        ("SW1A 1AA", "SW1A1AA", "SW1A 1AA", "SW1A"),
        (" sw1a  1aa ", "SW1A1AA", "SW1A 1AA", "SW1A"),
        ("sw1a1aa", "SW1A1AA", "SW1A 1AA", "SW1A"),
        ("\tSW1A\n1AA", "SW1A1AA", "SW1A 1AA", "SW1A"),
        ("E1 6AN", "E16AN", "E1 6AN", "E1"),  # A9
        ("N16 8DR", "N168DR", "N16 8DR", "N16"),  # A99
        ("CR0 2RG", "CR02RG", "CR0 2RG", "CR0"),  # AA9
        ("SE10 9NN", "SE109NN", "SE10 9NN", "SE10"),  # AA99
        ("W1A 0AX", "W1A0AX", "W1A 0AX", "W1A"),  # A9A
        ("EC1A 1BB", "EC1A1BB", "EC1A 1BB", "EC1A"),  # AA9A
        ("gir 0aa", "GIR0AA", "GIR 0AA", "GIR"),
        ("SW1A\u00a01AA", "SW1A1AA", "SW1A 1AA", "SW1A"),  # a no-break space
        ("\u200bSW1A 1AA", "SW1A1AA", "SW1A 1AA", "SW1A"),  # pasted: a zero-width space
        ("\ufeffSW1A\u200c1AA\u2060", "SW1A1AA", "SW1A 1AA", "SW1A"),  # BOM, ZWNJ, WJ
        # copied out of a sentence or a list (the read probe of 5 December: 422s before)
        ("SW1A 1AA.", "SW1A1AA", "SW1A 1AA", "SW1A"),
        ("(sw1a 1aa),", "SW1A1AA", "SW1A 1AA", "SW1A"),
        ("\u201cSW1A 1AA\u201d", "SW1A1AA", "SW1A 1AA", "SW1A"),
        ("SW1A-1AA", "SW1A1AA", "SW1A 1AA", "SW1A"),  # a hyphen for the space
        ("sw1a+1aa", "SW1A1AA", "SW1A 1AA", "SW1A"),  # a form's plus, kept in a path
        ("E1 + 6AN", "E16AN", "E1 6AN", "E1"),
        ("e1 - 6an", "E16AN", "E1 6AN", "E1"),
    ],
)
def test_parse_valid(text, canonical, display, outcode):
    parsed = parse_postcode(text)
    assert parsed == Postcode(canonical, display, outcode, canonical[len(outcode) :])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "SW1A",  # outcode only
        "1AA SW1",
        "SW1A 1A",
        "SW1A 1AAA",
        "QW1A 1AA",  # Q not allowed first
        "SI1 1AA",  # I not allowed second
        "W1I 1AA",  # I not allowed third in A9A
        "EC1Z 1AA",  # Z not allowed fourth in AA9A
        "SW1A 1CA",  # C not allowed in the inward code
        "SW1A 1AK",
        "GIR 1AA",
        "S-W1A1AA",  # a hyphen only where the space goes
        "S+W1A1AA",
        "SW1A++1AA",
        "SW1A+-1AA",
        "SW1A--1AA",
        "SW1A 1AA.X",
        ".",
        "SW1A 1AA" + " " * 20,  # too long
        "S W 1 A 1 A A X X X X",
    ],
)
def test_parse_invalid(text):
    with pytest.raises(InvalidPostcodeError) as excinfo:
        parse_postcode(text)
    assert str(excinfo.value)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "null"),
        (123, "a number"),
        (1.5, "a number"),
        (True, "a boolean"),
        (b"SW1A1AA", "bytes"),
        (["SW1A 1AA"], "a list"),
        ({}, "an object"),
    ],
)
def test_parse_rejects_non_text_in_json_terms(value, kind):
    with pytest.raises(InvalidPostcodeError, match=f"must be text, not {kind}\\.$"):
        parse_postcode(value)


def test_an_outcode_alone_is_called_one():
    with pytest.raises(InvalidPostcodeError, match="'SW1A' is an outcode"):
        parse_postcode(" sw1a ")


def test_invalid_postcode_error_is_a_value_error_and_geodata_error():
    with pytest.raises(ValueError):
        parse_postcode("nonsense")
    assert issubclass(InvalidPostcodeError, GeodataError)


def test_message_is_plain_english():
    with pytest.raises(InvalidPostcodeError, match="not a valid UK postcode"):
        parse_postcode("hello")


@pytest.mark.parametrize(
    ("text", "expected"), [("sw1a", "SW1A"), (" e1 ", "E1"), ("cr0", "CR0"), ("GIR", "GIR")]
)
def test_parse_outcode(text, expected):
    assert parse_outcode(text) == expected


@pytest.mark.parametrize("text", ["", "SW1A 1AA", "1AB", "QQ1", "ABCDE", 5])
def test_parse_outcode_invalid(text):
    with pytest.raises(InvalidPostcodeError):
        parse_outcode(text)


def test_display_form():
    assert display_form("SW1A1AA") == "SW1A 1AA"
    assert display_form("e16an") == "E1 6AN"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("SW1A1AA", "SW1A 1AA"),  # as held
        ("sw1a1aa", "SW1A 1AA"),  # lower case
        ("SW1A 1AA", "SW1A 1AA"),  # already spaced
        ("  sw1a   1aa ", "SW1A 1AA"),  # extra spaces
        ("E16AN", "E1 6AN"),  # the shortest outward code
        ("EC1A1BB", "EC1A 1BB"),
        ("GIR0AA", "GIR 0AA"),
        ("SW1A", "SW1A"),  # an outcode alone: as given
        ("sw1a", "sw1a"),
        ("GIR1AB", "GIR1AB"),  # GIR is only ever GIR 0AA
        ("ABC", "ABC"),  # not a postcode: as given, not " ABC"
        ("not a postcode", "not a postcode"),
        ("SW1A1AAX", "SW1A1AAX"),
        ("", ""),
        (None, None),
    ],
)
def test_spaced_form_spaces_a_postcode_and_leaves_anything_else(text, shown):
    assert spaced_form(text) == shown
