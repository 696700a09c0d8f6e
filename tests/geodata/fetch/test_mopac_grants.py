"""MOPAC's grants through the 360Giving Data Registry."""

from __future__ import annotations

import pytest

from geodata.errors import FetchError, NotPublishedError
from geodata.fetch import SOURCES
from geodata.fetch.mopac_grants import detect_format, is_mopac
from tests.geodata.fetch import publishers
from tests.geodata.fetch.conftest import leftovers
from tests.geodata.fetch.server import Reply

SOURCE = SOURCES["mopac-grants"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Mayor's Office for Policing and Crime", True),
        ("Mayor\u2019s Office for Policing And Crime", True),
        ("MAYORS OFFICE FOR POLICING AND CRIME", True),
        ("MOPAC", True),
        ("London Mayor's Office for Policing and Crime (MOPAC)", True),
        ("Greater London Authority", False),
        ("Mayor of London", False),
        ("Mopacity Trust", False),
    ],
)
def test_publisher_names(name, expected):
    assert is_mopac(name) is expected


def test_formats_are_told_apart():
    assert (
        detect_format(b'{"grants": []}', "application/octet-stream", "https://x/f.xlsx") == "json"
    )
    assert detect_format(b"PK\x03\x04...", "application/json", "https://x/f.json") == "xlsx"
    assert detect_format(b"Identifier,Title", "text/csv", "https://x/f") == "csv"
    assert detect_format(b"Identifier,Title", "", "https://x/grants.xlsx") == "xlsx"


def test_discover_selects_mopac_entries_only(client, server, grants_package, grants_workbook):
    publishers.publish_registry(server, grants_package, grants_workbook)
    found = SOURCE.discover(client)
    assert found.version == {
        "entries": [
            {
                "identifier": "a0Mopac2022-23",
                "modified": "2026-05-01T10:00:00+0000",
                "downloadURL": publishers.MOPAC_JSON_URL,
            },
            {
                "identifier": "a0Mopac2023-24",
                "modified": "2025-02-01T10:00:00+0000",
                "downloadURL": publishers.MOPAC_XLSX_URL,
            },
        ]
    }
    assert found.vintage == "2026-05-01"
    assert "Open Government Licence v3.0" in found.licence and "CC BY 4.0" in found.licence
    assert found.url == publishers.REGISTRY


def test_fetch_downloads_each_file_as_published(
    client, server, grants_package, grants_workbook, workdir
):
    publishers.publish_registry(server, grants_package, grants_workbook)
    package, workbook = SOURCE.fetch(client, SOURCE.discover(client), workdir)
    assert package.key == "mopac_grants:a0Mopac2022-23"
    assert package.path == "grants/mopac_360giving_a0mopac2022-23.json"
    assert (workdir / package.path).read_bytes() == grants_package
    assert package.rows == 841
    assert package.licence == "Open Government Licence v3.0"
    assert package.url == publishers.MOPAC_JSON_URL
    assert workbook.key == "mopac_grants:a0Mopac2023-24"
    assert workbook.path == "grants/mopac_360giving_a0mopac2023-24.xlsx"
    assert (workdir / workbook.path).read_bytes() == grants_workbook
    assert workbook.rows == 37
    assert server.requests_to(publishers.OTHER_XLSX_URL) == []  # other publishers untouched


def test_no_mopac_entry_says_it_is_not_published(client, server, grants_package, grants_workbook):
    publishers.publish_registry(server, grants_package, grants_workbook, with_mopac=False)
    with pytest.raises(
        NotPublishedError,
        match="no dataset whose publisher is the Mayor's Office for Policing and Crime",
    ):
        SOURCE.discover(client)


def test_a_file_that_is_not_a_360giving_package_fails_and_leaves_nothing(
    client, server, grants_package, grants_workbook, workdir
):
    publishers.publish_registry(server, grants_package, grants_workbook)
    server.route(publishers.MOPAC_JSON_URL, Reply(b'{"data": []}', content_type="application/json"))
    with pytest.raises(FetchError, match="no 'grants' list"):
        SOURCE.fetch(client, SOURCE.discover(client), workdir)
    assert leftovers(workdir) == []


def test_version_is_stable_and_changes_when_mopac_republishes(
    client, server, grants_package, grants_workbook
):
    publishers.publish_registry(server, grants_package, grants_workbook)
    first, again = SOURCE.discover(client), SOURCE.discover(client)
    assert first.version == again.version
    publishers.publish_registry(
        server, grants_package, grants_workbook, modified="2026-08-01T10:00:00+0000"
    )
    assert SOURCE.discover(client).version != first.version
