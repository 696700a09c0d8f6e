"""The template's columns come from directory/ingest/template.toml; a file the loader cannot
use stops it with a message naming the file, the column and what is wrong."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from directory.ingest.readers import normalise_header
from directory.ingest.template import (
    COLUMNS,
    COLUMNS_FILE,
    HEADINGS,
    ColumnsFileError,
    load_columns,
)

SHIPPED = COLUMNS_FILE.read_text("utf-8")


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    """The shipped file with ``old`` (found exactly once) replaced by ``new``."""
    assert SHIPPED.count(old) == 1, old
    path = tmp_path / "template.toml"
    path.write_text(SHIPPED.replace(old, new), "utf-8")
    return path


def _problem(path: Path) -> str:
    with pytest.raises(ColumnsFileError) as caught:
        load_columns(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_the_shipped_file_gives_the_columns():
    assert load_columns() == COLUMNS
    assert COLUMNS_FILE.name == "template.toml"
    assert HEADINGS[:3] == ["Service ref", "Service name", "Description"]
    assert [c.heading for c in COLUMNS if c.required] == [
        "Service ref",
        "Service name",
        "Organisation name",
        "Coverage",
    ]
    by_heading = {c.heading: c for c in COLUMNS}
    assert by_heading["Organisation name"].aliases[:2] == ("organisation", "organization")
    assert by_heading["Status"].meaning == (
        'active, inactive, defunct or temporarily closed. Blank means active; "closed" means '
        "defunct."
    )
    for column in COLUMNS:
        assert column.key == normalise_header(column.heading)
        assert "\n" not in column.meaning
        assert "  " not in column.meaning  # no doubled space where a long text was wrapped


def test_an_unknown_key_is_refused(tmp_path):
    path = _edited(tmp_path, 'heading = "Amount"\n', 'heading = "Amount"\nkind = "amount"\n')
    message = _problem(path)
    assert "column 29 ('Amount'): unknown key 'kind'" in message
    assert "a column's keys are heading, required, meaning, example, aliases" in message


def test_a_misspelt_key_is_refused(tmp_path):
    path = _edited(tmp_path, 'aliases = ["Service status"]', 'alias = ["Service status"]')
    assert "('Status'): unknown key 'alias'" in _problem(path)


def test_an_unknown_top_level_key_is_refused(tmp_path):
    path = tmp_path / "template.toml"
    path.write_text('sheet = "Services"\n' + SHIPPED, "utf-8")
    assert "unknown key 'sheet': the file holds only [[column]] tables" in _problem(path)


@pytest.mark.parametrize("key", ["meaning", "example"])
def test_a_missing_field_is_refused(tmp_path, key):
    old = (
        'example = "Rescue and Response"\n'
        if key == "example"
        else ('meaning = "What the service is called."\n')
    )
    path = _edited(tmp_path, old, "")
    assert f"column 2 ('Service name'): missing key '{key}'" in _problem(path)


def test_a_column_without_a_heading_is_refused(tmp_path):
    path = _edited(tmp_path, 'heading = "Demo"\n', "")
    assert "column 38: missing key 'heading'" in _problem(path)


def test_a_duplicate_column_is_refused(tmp_path):
    path = tmp_path / "template.toml"
    path.write_text(
        SHIPPED + '\n[[column]]\nheading = "service REF"\nmeaning = "Again."\nexample = "x"\n',
        "utf-8",
    )
    message = _problem(path)
    assert "column 39 ('service REF'): duplicate column: 'service REF' is already read as " in (
        message
    )
    assert "the column 'Service ref'" in message


def test_a_heading_accepted_for_two_columns_is_refused(tmp_path):
    path = _edited(tmp_path, '"Location name", "Venue", "Site"', '"Location name", "Venue"')
    path = _edited(
        tmp_path,
        'aliases = ["Address", "Location address", "Venue address"]',
        'aliases = ["Address", "Location address", "Venue address", "Venue"]',
    )
    message = _problem(path)
    assert "('Site address'): duplicate alias: 'Venue' is already read as the column " in message
    assert "'Site name' (by its alias 'Venue')" in message


def test_an_alias_that_is_the_heading_already_is_refused(tmp_path):
    path = _edited(
        tmp_path,
        'aliases = ["Duration", "Months"',
        'aliases = ["Duration", "Duration months", "Months"',
    )
    message = _problem(path)
    assert "('Duration (months)'): duplicate alias: 'Duration months' is already read as" in (
        message
    )
    assert "compared ignoring case, spaces and punctuation" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'heading = "Service ref"\nrequired = true',
            'heading = "Service ref"\nrequired = "yes"',
            "required must be true or false, not 'yes'",
        ),
        ('example = "SL-RESCUE-01"', "example = 1", "example must be text, not 1"),
        ('"Service ID", "Service reference"', '"Service ID", 7', "aliases must be a list"),
        ('example = "SL-RESCUE-01"', 'example = " "', "example has a blank text"),
        ("does. Choose \\\nit", "does. Choose\nit", "meaning has a line break"),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused(tmp_path, old, new, expected):
    message = _problem(_edited(tmp_path, old, new))
    assert "column 1 ('Service ref'): " + expected in message


def test_a_column_the_code_does_not_read_is_refused(tmp_path):
    path = tmp_path / "template.toml"
    path.write_text(
        SHIPPED + '\n[[column]]\nheading = "Languages"\nmeaning = "Spoken."\nexample = "x"\n',
        "utf-8",
    )
    assert "template.py does not read 'Languages'" in _problem(path)


def test_a_column_the_code_reads_cannot_be_left_out_or_renamed(tmp_path):
    path = _edited(tmp_path, 'heading = "Phone"', 'heading = "Telephone number"')
    message = _problem(path)
    assert "does not read 'Telephone number'" in message


def test_a_column_the_code_reads_cannot_be_removed(tmp_path):
    start = SHIPPED.index('[[column]]\nheading = "Demo"')
    path = tmp_path / "template.toml"
    path.write_text(SHIPPED[:start], "utf-8")
    assert "there is no column 'Demo', which template.py reads" in _problem(path)


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    path = _edited(tmp_path, 'heading = "Demo"', 'heading = "Demo')
    assert "cannot read the template's columns" in _problem(path)
    assert "cannot read the template's columns" in _problem(tmp_path / "missing.toml")


def test_the_file_is_package_data():
    root = Path(__file__).resolve().parents[3]
    config = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["directory"]
    shipped = COLUMNS_FILE.relative_to(root / "directory").as_posix()
    assert any(fnmatch(shipped, pattern) for pattern in patterns), patterns
