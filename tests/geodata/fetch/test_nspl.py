"""ONS NSPL through ArcGIS Online search and item downloads, in both header styles."""

from __future__ import annotations

import csv
import hashlib

import pytest

from geodata.errors import FetchError
from geodata.fetch import SOURCES
from geodata.fetch.nspl import OUTPUT_PATH
from tests.geodata.fetch import publishers
from tests.geodata.fetch.conftest import leftovers
from tests.geodata.fetch.server import Reply

SOURCE = SOURCES["nspl"]
NEW = publishers.NSPL_ITEMS["new"]


def output(workdir):
    with (workdir / OUTPUT_PATH).open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_discover_picks_the_newest_csv_collection(client, server, nspl_fx):
    publishers.publish_nspl(server, publishers.nspl_zip(nspl_fx, "new"))
    found = SOURCE.discover(client)
    assert found.version == {
        "item": NEW,
        "title": "National Statistics Postcode Lookup (February 2026) for the UK",
        "modified": publishers.MS + 9_000_000_000,
        "type": "CSV Collection",
    }
    assert found.vintage == "2026-02"
    assert found.details["download_url"] == (
        f"https://www.arcgis.com/sharing/rest/content/items/{NEW}/data"
    )
    assert found.url.startswith(
        "https://www.arcgis.com/sharing/rest/search?q=owner%3AONSGeography_data"
    )
    assert "Royal Mail copyright and database right 2026" in found.attribution
    assert found.licence == "Open Government Licence v3.0"


@pytest.mark.parametrize("style", ["old", "new"])
def test_fetch_keeps_the_london_rows_live_and_terminated(client, server, nspl_fx, workdir, style):
    publishers.publish_nspl(server, publishers.nspl_zip(nspl_fx, style))
    [written] = SOURCE.fetch(client, SOURCE.discover(client), workdir)
    rows = output(workdir)
    assert ",".join(rows[0]) == publishers.NSPL_OUTPUT
    assert rows[1:] == nspl_fx.expected
    terminated = [r for r in rows[1:] if r[2]]
    assert terminated and len(terminated) < len(rows) - 1  # both kinds kept
    assert not any(r[0].startswith(("GU", "BT")) for r in rows[1:])
    no_grid = next(r for r in rows[1:] if r[0] == "WC1X 9ZZ")
    assert (no_grid[8], no_grid[10], no_grid[11]) == ("", "", "")  # placeholders blanked
    assert written.key == "nspl" and written.path == OUTPUT_PATH
    assert written.rows == len(nspl_fx.expected)
    assert written.sha256 == hashlib.sha256((workdir / OUTPUT_PATH).read_bytes()).hexdigest()
    assert written.vintage == "2026-02"


def test_both_header_styles_give_identical_files(client, server, nspl_fx, tmp_path):
    digests = []
    for style in ("old", "new"):
        publishers.publish_nspl(server, publishers.nspl_zip(nspl_fx, style))
        [written] = SOURCE.fetch(client, SOURCE.discover(client), tmp_path / style)
        digests.append(written.sha256)
    assert digests[0] == digests[1]


def test_per_area_files_are_read_when_there_is_no_uk_file(client, server, nspl_fx, workdir):
    publishers.publish_nspl(server, publishers.nspl_zip(nspl_fx, "new", layout="multi"))
    SOURCE.fetch(client, SOURCE.discover(client), workdir)
    assert output(workdir)[1:] == nspl_fx.expected


def test_a_hosted_table_is_fetched_as_flat_csv_through_the_hub(client, server, nspl_fx, workdir):
    table_id = "419355d8a54741f19025ba97e35da55a"
    router = publishers.search_router(server)
    router.answers["National Statistics Postcode Lookup"] = publishers.search_answer(
        [
            publishers.arcgis_item(
                table_id,
                "National Statistics Postcode Lookup (May 2026) for the UK",
                "Feature Service",
                publishers.MS + 9_500_000_000,
                url="https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services/NSPL_MAY_2026/FeatureServer",
            ),
            publishers.arcgis_item(
                NEW,
                "National Statistics Postcode Lookup (February 2026) for the UK",
                "CSV Collection",
                publishers.MS + 9_000_000_000,
            ),
        ]
    )
    flat = publishers.csv_bytes(nspl_fx.table("new"))
    server.route(publishers.HUB_CSV.format(id=table_id), Reply(flat, content_type="text/csv"))
    found = SOURCE.discover(client)
    assert found.version["item"] == table_id and found.vintage == "2026-05"
    SOURCE.fetch(client, found, workdir)
    assert output(workdir)[1:] == nspl_fx.expected
    [request] = server.requests_to(publishers.HUB_CSV.format(id=table_id))
    assert request.param("layers") == "0"


def test_a_header_without_a_lad_column_fails_loudly(client, server, nspl_fx, workdir):
    publishers.publish_nspl(server, publishers.nspl_zip(nspl_fx, "new", drop=("lad25cd",)))
    with pytest.raises(FetchError, match=r"lacks LAD \(laua or ladYYcd\).*header found: pcd7"):
        SOURCE.fetch(client, SOURCE.discover(client), workdir)
    assert leftovers(workdir) == []


def test_a_zip_without_the_nspl_csv_fails_loudly(client, server, workdir):
    archive = publishers.zip_bytes({"Documents/readme.txt": b"nothing here"})
    publishers.publish_nspl(server, archive)
    with pytest.raises(FetchError, match=r"no Data/NSPL_\*_UK\.csv"):
        SOURCE.fetch(client, SOURCE.discover(client), workdir)
    assert leftovers(workdir) == []


def test_no_nspl_item_fails_loudly(client, server):
    publishers.search_router(server)  # every search answers no results
    with pytest.raises(FetchError, match="no 'National Statistics Postcode Lookup' item"):
        SOURCE.discover(client)


def test_version_is_stable_and_changes_with_a_new_release(client, server, nspl_fx):
    archive = publishers.nspl_zip(nspl_fx, "new")
    publishers.publish_nspl(server, archive)
    first, again = SOURCE.discover(client), SOURCE.discover(client)
    assert first.version == again.version
    publishers.publish_nspl(server, archive, newest="May 2026", item="e" * 32)
    newer = SOURCE.discover(client)
    assert newer.version != first.version and newer.vintage == "2026-05"
