"""Memory and answer sizes the client does not get to choose (the fault run's probes):

- the kept boundaries: any ``simplify`` is taken down to a step of a short ladder, so 200
  distinct values make at most a ladder's worth of kept versions of an area, and what is
  kept is counted in bytes against a budget;
- the kept funding summaries: any ``live_on`` is a new key, and their number is bounded;
- a caseload lookup: detail=full lists a page of services per postcode, and an answer over
  its byte budget is a 413 problem, not hundreds of MB;
- an XLSX file that unzips to hundreds of MB (a 300 KB file holding one 400 MB cell) is
  refused before it is parsed, and a cell longer than Excel allows is refused.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from directory.ingest import readers
from directory.ingest.readers import ReadError
from directory.usecases import geography
from directory.usecases.patch import answer
from directory.usecases.patch.index import CACHE_SHARES
from directory.usecases.shared import KEPT_JSON_OVERHEAD, Kept
from directory.web.state import directory_reads, snapshot
from directory.web.state import end_request as directory_end_request

LONDON = "E12000007"


def test_any_simplify_value_keeps_at_most_a_ladder_of_boundaries(geo_app):
    client = geo_app.test_client()
    applied = set()
    for i in range(200):
        simplify = f"{0.001 * (i + 1) + (i % 7) * 3.3:.4f}"
        feature = client.get(f"/api/v1/areas/{LONDON}/boundary?simplify={simplify}").get_json()
        applied.add(feature["properties"]["simplify_m"])
        assert feature["properties"]["simplify_m"] <= float(simplify)
    assert applied <= set(geography.SIMPLIFY_STEPS)
    with geo_app.test_request_context():
        snap = snapshot()
        directory_end_request()
    kept = [key for key in snap._boundaries if key[:2] == ("feature", LONDON)]
    assert len(kept) <= len(geography.SIMPLIFY_STEPS)
    assert snap._boundary_bytes == sum(len(f.json()) for f in snap._boundaries.values())
    assert snap._boundary_bytes <= geography.BOUNDARY_BYTES_KEPT


def test_kept_boundaries_are_dropped_past_their_byte_budget(geo_app, monkeypatch):
    with geo_app.test_request_context():
        snap = snapshot()
        directory_end_request()
    with snap._lock:  # start from nothing kept (the test before filled it)
        snap._boundaries.clear()
        snap._boundary_bytes = 0
    client = geo_app.test_client()
    exact = len(client.get(f"/api/v1/areas/{LONDON}/boundary").data)
    budget = exact * 3 // 2  # London unsimplified once and a half
    monkeypatch.setattr(geography, "BOUNDARY_BYTES_KEPT", budget)
    for step in geography.SIMPLIFY_STEPS[:8]:
        assert client.get(f"/api/v1/areas/{LONDON}/boundary?simplify={step}").status_code == 200
        assert snap._boundary_bytes <= budget
        assert ("feature", LONDON, float(step)) in snap._boundaries  # the newest is kept
    kept = [key for key in snap._boundaries if key[:2] == ("feature", LONDON)]
    assert len(kept) < 8  # the older ones were dropped to stay within the budget
    # one bigger than the whole budget is answered, not kept
    monkeypatch.setattr(geography, "BOUNDARY_BYTES_KEPT", 1000)
    assert client.get(f"/api/v1/areas/{LONDON}/boundary?simplify=5000").status_code == 200
    assert ("feature", LONDON, 5000.0) not in snap._boundaries


def test_kept_answers_are_bounded_by_bytes():
    kept = Kept(1000)
    assert kept.keep("a", "A", 400) == "A" and kept.used == 400
    kept.keep("b", "B", 500)
    assert set(kept) == {"a", "b"} and kept.used == 900
    kept.keep("c", "C", 200)  # past the limit: dropped, kept afresh
    assert set(kept) == {"c"} and kept.used == 200
    assert kept.keep("d", "D", 1001) == "D" and "d" not in kept  # bigger than the limit
    kept.clear()
    assert kept.used == 0 and not kept


def test_funding_summaries_kept_for_any_live_on_are_bounded_by_bytes(geo_app):
    client = geo_app.test_client()
    assert client.get("/api/v1/patch?postcode=SE1%207PB").status_code == 200
    with geo_app.test_request_context():
        index = directory_reads().index
        directory_end_request()
    one = next(iter(index.funding_cache.values()))
    budget = 16 * (len(one.json()) + KEPT_JSON_OVERHEAD)  # about 16 summaries' worth
    limits = {name: getattr(index, name).limit for name in CACHE_SHARES}
    try:
        index.funding_cache.clear()
        index.funding_cache.limit = budget
        for day in range(1, 61):
            url = (
                f"/api/v1/patch?postcode=SE1%207PB&live_on=2030-{1 + day % 12:02d}-"
                f"{1 + day % 28:02d}"
            )
            assert client.get(url).status_code == 200
            assert index.funding_cache.used <= budget
        assert 8 <= len(index.funding_cache) <= 17
        assert index.funding_cache.used == sum(
            len(s.json()) + KEPT_JSON_OVERHEAD for s in index.funding_cache.values()
        )
        # every kept cache of the index within its share of the total, whatever was asked
        index.bounded(64 * 1024)
        for code in ("SE1 7PB", "KT1 1EU", "E1 6AN", "N1 9GU", "SW2 1RW", "W1A 1AA"):
            for theme in ("", "&theme=youth-diversion", "&q=youth", "&status=any"):
                assert client.get(f"/api/v1/patch?postcode={code}{theme}").status_code == 200
        used = index.kept_bytes()
        for name, share in CACHE_SHARES.items():
            assert used[name] <= int(64 * 1024 * share), name
    finally:
        for name, limit in limits.items():
            getattr(index, name).limit = limit


@pytest.fixture(scope="module")
def demo_app(sqlite_demo_app):
    """The demo directory on SQLite (the session's, shared: the test only reads it)."""
    return sqlite_demo_app


def test_a_caseload_answer_is_paged_and_bounded(demo_app, monkeypatch):
    client = demo_app.test_client()
    postcodes = ["SE1 7PB", "KT1 1EU", "E1 6AN", "N1 9GU"] * 25
    full = client.post(
        "/api/v1/patch/lookup", json={"postcodes": postcodes, "detail": "full", "per_page": 3}
    )
    assert full.status_code == 200, full.get_data(as_text=True)[:300]
    for item in full.get_json()["results"]:
        if "result" in item:
            result = item["result"]
            assert len(result["services"]) == min(3, result["counts"]["services"])
    monkeypatch.setattr(answer, "LOOKUP_BYTES_MAX", len(full.data) // 2)
    refused = client.post(
        "/api/v1/patch/lookup", json={"postcodes": postcodes, "detail": "full", "per_page": 3}
    )
    assert refused.status_code == 413 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "answer-too-large"
    assert "fewer postcodes" in refused.get_json()["detail"]


def _workbook_with_a_long_cell(length: int) -> bytes:
    book = Workbook()
    book.active.append(["Service ref", "Service name"])
    book.active.append(["A-1", "placeholder"])
    plain = io.BytesIO()
    book.save(plain)
    source = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(info, data)
                continue
            head, tail = data.split(b"</sheetData>")
            with archive.open(info.filename, "w", force_zip64=True) as part:
                part.write(head + b'<row r="3"><c r="B3" t="inlineStr"><is><t>')
                chunk = b"x" * (1 << 20)
                for _ in range(length // len(chunk)):
                    part.write(chunk)
                part.write(b"x" * (length % len(chunk)))
                part.write(b"</t></is></c></row></sheetData>" + tail)
    return out.getvalue()


def test_a_workbook_that_unzips_to_hundreds_of_mb_is_refused_unread():
    bomb = _workbook_with_a_long_cell(400 * 2**20)
    assert len(bomb) < 2 * 2**20
    with pytest.raises(ReadError, match=r"unzips to 400 MB, more than 384 MB"):
        readers.read_table(bomb, format="xlsx", name="bomb.xlsx")


def test_a_cell_longer_than_excel_allows_is_refused():
    with pytest.raises(ReadError, match=r"Row 3, cell 2 .* 40,000 characters"):
        readers.read_table(_workbook_with_a_long_cell(40_000), format="xlsx", name="long.xlsx")
    assert readers.read_table(_workbook_with_a_long_cell(30_000), format="xlsx").rows
