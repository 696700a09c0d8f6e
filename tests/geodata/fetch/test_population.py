"""ONS mid-year population estimates through the Nomis API (NM_2002_1)."""

from __future__ import annotations

import csv

import pytest

from geodata.errors import FetchError
from geodata.fetch import SOURCES
from geodata.fetch.population import OUTPUT_HEADER, OUTPUT_PATH
from tests.geodata.fetch import publishers
from tests.geodata.fetch.conftest import leftovers
from tests.geodata.fetch.server import Reply

SOURCE = SOURCES["population"]
DATA = f"{publishers.NOMIS}.data.csv"
NUMBERS = OUTPUT_HEADER[2:7]


def output(workdir):
    with (workdir / OUTPUT_PATH).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_discover_reads_last_updated_and_the_latest_date(client, server, population_rows):
    publishers.publish_population(server, population_rows)
    found = SOURCE.discover(client)
    assert found.version == {"last_updated": "2024-07-15 09:30:00", "date": "2022"}
    assert found.vintage == "2022"
    assert found.url == f"{publishers.NOMIS}.def.sdmx.json"
    assert "Office for National Statistics" in found.attribution


def test_fetch_with_single_years_gives_the_bands(client, server, population_rows, workdir):
    publishers.publish_population(server, population_rows)
    [written] = SOURCE.fetch(client, SOURCE.discover(client), workdir)
    with (workdir / OUTPUT_PATH).open(encoding="utf-8") as handle:
        assert handle.readline().strip() == ",".join(OUTPUT_HEADER)
    rows = output(workdir)
    assert [r["gss_code"] for r in rows] == list(publishers.BOROUGH_CODES_EXPECTED)
    for row, source in zip(rows, population_rows, strict=True):
        assert row["name"] == source["name"]
        assert {c: row[c] for c in NUMBERS} == {c: source[c] for c in NUMBERS}
        assert (row["year"], row["reference_date"]) == ("2022", "2022-06-30")
        assert (
            row["source"] == "ONS mid-year population estimates via Nomis NM_2002_1, 2022; OGL v3"
        )
    assert sum(int(r["population_all_ages"]) for r in rows) == 8_866_180
    assert (written.key, written.path, written.rows) == ("population", OUTPUT_PATH, 33)
    [request] = [r for r in server.requests_to(DATA) if "c_age_name" in (r.param("select") or "")]
    assert request.param("geography") == ",".join(publishers.BOROUGH_CODES_EXPECTED)
    assert request.param("c_age").startswith("200,")


def test_fetch_without_single_years_leaves_the_bands_blank(
    client, server, population_rows, workdir
):
    publishers.publish_population(server, population_rows, with_single_years=False)
    SOURCE.fetch(client, SOURCE.discover(client), workdir)
    rows = output(workdir)
    assert [int(r["population_all_ages"]) for r in rows] == [
        int(s["population_all_ages"]) for s in population_rows
    ]
    assert all(r[c] == "" for r in rows for c in NUMBERS[1:])


def test_a_rejected_age_list_is_retried_with_all_ages_only(
    client, server, population_rows, workdir
):
    publishers.publish_population(server, population_rows)
    all_ages = server.answer_of(DATA)  # the fixture's Nomis answer

    def strict(request):
        if "101" in (request.param("c_age") or ""):
            return Reply(b"invalid c_age", status=400, content_type="text/plain")
        return all_ages(request)

    server.route(DATA, strict)
    SOURCE.fetch(client, SOURCE.discover(client), workdir)
    rows = output(workdir)
    assert len(rows) == 33 and all(r["population_aged_10_24"] == "" for r in rows)


def test_a_missing_borough_fails_and_leaves_nothing(client, server, population_rows, workdir):
    publishers.publish_population(server, population_rows, drop_code="E09000033")
    with pytest.raises(
        FetchError, match=r"expected exactly the 33 London codes, got 32 \(missing \['E09000033'\]"
    ):
        SOURCE.fetch(client, SOURCE.discover(client), workdir)
    assert leftovers(workdir) == []


def test_a_new_release_during_the_run_fails(client, server, population_rows, workdir):
    publishers.publish_population(server, population_rows)
    found = SOURCE.discover(client)
    publishers.publish_population(server, population_rows, date="2023")
    with pytest.raises(FetchError, match="latest date is now 2023, not 2022"):
        SOURCE.fetch(client, found, workdir)
    assert leftovers(workdir) == []


def test_version_is_stable_and_changes_with_a_new_release(client, server, population_rows):
    publishers.publish_population(server, population_rows)
    first, again = SOURCE.discover(client), SOURCE.discover(client)
    assert first.version == again.version
    publishers.publish_population(server, population_rows, last_updated="2025-07-14 09:30:00")
    assert SOURCE.discover(client).version != first.version
    publishers.publish_population(server, population_rows, date="2023")
    assert SOURCE.discover(client).version["date"] == "2023"
