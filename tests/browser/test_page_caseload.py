"""A SPOC's caseload on the public page (issue 18 §5): a CSV or XLSX of client records is
read in the browser, only its postcodes are sent (to POST /api/v1/patch/lookup), and the same
file comes back with each row's ward, borough, BCU, services count, top services and problem
added, with a summary by ward. The caseloads are built here from real London postcodes
(OS Code-Point Open) with messy spacing and case, blanks, a malformed, an unknown, a
withdrawn and a non-London postcode, duplicates and other columns holding names and notes
with commas, quotes and line breaks. Expected values are the API's own GET answers
(/postcodes, /patch) and the Code-Point file's, never the lookup's."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from openpyxl.styles import Font

from tests.browser.conftest import Server
from tests.withdrawn import CODEPOINT

ROWS = 5000
ADDED = ["Ward", "Borough", "BCU", "Services", "Top services", "Problem"]
BLANK, MALFORMED, UNKNOWN, WITHDRAWN, OUTSIDE = "", "SW1A 1A", "E1W 9ZZ", "SM1 1AB", "M1 1AE"


def messy(postcode: str, i: int) -> str:
    """The postcode as people type it: lower case, no space, extra spaces around and inside."""
    return [postcode, postcode.lower(), postcode.replace(" ", ""), f"  {postcode.lower()}   ",
            postcode.replace(" ", "   ")][i % 5]  # fmt: skip


def tidy(text: str) -> str:
    return " ".join(text.split()).upper()


@pytest.fixture(scope="module")
def london(shared_data_dir: Path) -> list[dict[str, str]]:
    """1,500 live London postcodes spread over the whole file (every borough)."""
    with open(shared_data_dir / CODEPOINT, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows[:: len(rows) // 1500][:1500]


def caseload(london: list[dict[str, str]]) -> tuple[list[str], list[list[str]]]:
    """5,000 client records: ID, name, postcode, notes, date; the postcodes repeat."""
    header = ["Client ID", "Name", "Post Code", "Notes", "Referred"]
    odd = [BLANK, MALFORMED, UNKNOWN, WITHDRAWN, OUTSIDE, "   "]
    rows = []
    for i in range(ROWS):
        postcode = (
            odd[i // 97 % 6]
            if i % 97 == 3
            else messy(london[i % len(london)]["postcode"], i + i // len(london))
        )
        rows.append([
            f"C{i:05d}",
            f'O\'Brien-{i:05d}, "Jo"',  # a comma and quotes
            postcode,
            f"Seen at home {i}; said \"call after 5\",\nthen text" if i % 7 == 0 else f"note-{i}",
            f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
        ])  # fmt: skip
    return header, rows


def lookups(page: Any) -> list[dict[str, Any]]:
    """Every body the page sends to the API (filled in as requests go)."""
    sent: list[dict[str, Any]] = []

    def request(req: Any) -> None:
        if "/api/" in req.url and req.method != "GET":
            assert req.url.endswith("/api/v1/patch/lookup"), req.url
            sent.append({"raw": req.post_data, "body": json.loads(req.post_data)})

    page.on("request", request)
    return sent


def choose(page: Any, name: str, data: bytes, mime: str) -> float:
    """Choose the file; wait for the answer; the seconds it took."""
    started = time.perf_counter()
    page.set_input_files("#caseload-file", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.wait_for_selector("#caseload[data-state=ready]", timeout=120_000)
    return time.perf_counter() - started


def choose_workbook(page: Any, name: str, book: Any) -> bytes:
    """Choose ``book`` (an openpyxl workbook) as the file ``name``, without waiting for an
    answer; the bytes chosen."""
    buffer = io.BytesIO()
    book.save(buffer)
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    page.set_input_files(
        "#caseload-file", files=[{"name": name, "mimeType": mime, "buffer": buffer.getvalue()}]
    )
    return buffer.getvalue()


def download(page: Any) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.click("#caseload-link")
    d = info.value
    return d.suggested_filename, Path(d.path()).read_bytes()


def table(page: Any, cls: str) -> list[list[str]]:
    """The table's body cells as shown, read in one call."""
    rows: list[list[str]] = page.eval_on_selector_all(
        f"table.{cls} tbody tr",
        "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))",
    )
    return rows


def expected_cells(server: Server, postcode: str) -> list[str]:
    """A row's added cells from GET /postcodes/{pc} and GET /patch (not the lookup)."""
    status, pc = server.api(f"/postcodes/{quote(postcode)}")
    if status != 200:
        return ["", "", "", "", "", pc["title"]]
    patch = server.json("/patch", postcode=postcode, per_page=3)
    bcu = pc["bcu"]["name"] if pc["bcu"] else f"None ({pc['police_force']['name']})"
    names = "; ".join(s["name"] for s in patch["services"]["contents"][:3])
    return [pc["ward"]["name"], pc["borough"]["name"], bcu, str(patch["counts"]["services"]),
            names, ""]  # fmt: skip


def test_a_5000_row_csv_comes_back_whole_with_each_rows_patch(
    page: Any, live_server: Server, london: list[dict[str, str]], artifacts: Path
) -> None:
    header, rows = caseload(london)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    original = buffer.getvalue().encode("utf-8-sig")  # with a byte-order mark, CRLF lines
    changes = live_server.json("/changes", per_page=1)["total_items"]
    version = live_server.json("/status")["data_version"]

    page.goto(live_server.url("/"))
    sent = lookups(page)
    seconds = choose(page, "caseload.csv", original, "text/csv")
    print(f"\ncaseload of {ROWS:,} rows: time to result {seconds:.2f} s")
    page.screenshot(path=str(artifacts / "page-caseload.png"), full_page=False)
    name, data = download(page)
    assert name == "caseload with patches.csv"

    # the same file: its byte-order mark, every original row and column as it was, in order
    assert data.startswith(b"\xef\xbb\xbf")
    back = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(back) == ROWS + 1
    assert back[0] == header + ADDED
    assert [r[: len(header)] for r in back[1:]] == rows
    assert all(len(r) == len(header) + len(ADDED) for r in back)
    assert data.count(b"\r\n") == original.count(b"\r\n")  # the notes' own line breaks kept
    out = {r[0]: r[len(header) :] for r in back[1:]}

    # only the postcodes were sent: each once, tidied, in batches of at most 1,000
    distinct = {tidy(r[2]) for r in rows} - {""}
    postcodes = [p for s in sent for p in s["body"]["postcodes"]]
    assert sorted(postcodes) == sorted(distinct)
    for s in sent:
        assert set(s["body"]) == {"postcodes", "detail", "per_page"}
        assert 1 <= len(s["body"]["postcodes"]) <= 1000
    assert len(sent) == -(-len(distinct) // 1000)
    bodies = "\n".join(s["raw"] for s in sent)
    for row in rows[:400]:
        for value in (row[0], row[1], row[3], row[4]):
            assert value not in bodies
    assert "O'Brien" not in bodies and "note-" not in bodies and "C0" not in bodies

    # a few rows, and every problem row, against the API's GET answers
    by_kind: dict[str, list[list[str]]] = {}
    for row in rows:
        by_kind.setdefault(tidy(row[2]), []).append(row)
    for postcode in [tidy(r[2]) for r in rows[:3]] + [london[700]["postcode"]]:
        expected = expected_cells(live_server, postcode)
        for row in by_kind[postcode]:
            assert out[row[0]] == expected, (row, expected)
    codepoint = {r["postcode"]: r for r in london}
    first = codepoint[tidy(rows[0][2])]
    assert out[rows[0][0]][:2] == [first["ward_name"], first["laua_name"]]
    for odd in (MALFORMED, UNKNOWN, WITHDRAWN, OUTSIDE):
        title = live_server.api(f"/postcodes/{quote(odd)}")[1]["title"]
        assert title and by_kind[odd]
        for row in by_kind[odd]:
            assert out[row[0]] == ["", "", "", "", "", title]
    blanks = by_kind[""]
    assert len(blanks) > 10
    assert all(out[r[0]] == ["", "", "", "", "", "No postcode"] for r in blanks)

    # the summary by ward adds up to the file's rows, ward by ward
    found = [c for c in out.values() if not c[5]]
    wards = table(page, "caseload-wards")
    assert sum(int(w[2].replace(",", "")) for w in wards) == len(found)
    counted = Counter((c[0], c[1]) for c in found)
    assert {(w[0], w[1]): int(w[2].replace(",", "")) for w in wards} == counted
    services = {}
    for c in found:
        services.setdefault((c[0], c[1]), set()).add(int(c[3]))
    for w in wards:
        low, high = min(services[(w[0], w[1])]), max(services[(w[0], w[1])])
        assert w[3] == (str(high) if low == high else f"{low}–{high}")
    problems = {p[0]: int(p[1].replace(",", "")) for p in table(page, "caseload-problems")}
    assert problems == Counter(c[5] for c in out.values() if c[5])
    assert sum(problems.values()) + len(found) == ROWS
    status = page.inner_text("#caseload-status")
    assert status.startswith(f"Done: {ROWS:,} rows, {len(found):,} in {len(wards):,} wards")

    # nothing was stored
    assert live_server.json("/changes", per_page=1)["total_items"] == changes
    assert live_server.json("/status")["data_version"] == version


def test_an_xlsx_comes_back_the_same_workbook_with_the_columns_added(
    phone: Any, live_server: Server, london: list[dict[str, str]], artifacts: Path
) -> None:
    """At 375 px, with two columns named like a postcode (the reader chooses one)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Clients"
    sheet.append(["Name", "Postcode", "Referred", "Visits", "Total", "Old postcode"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    picks = [london[10]["postcode"].lower(), "", OUTSIDE, MALFORMED, london[900]["postcode"]]
    for i, postcode in enumerate(picks):
        row = i + 2
        sheet.append([f"Client {i}, \"x\"", postcode, datetime(2026, 1, i + 1), i * 1.5,
                      f"=D{row}*2", "SW1A 1AA"])  # fmt: skip
    book.create_sheet("Other").append(["untouched", 42])

    phone.goto(live_server.url("/"))
    sent = lookups(phone)
    chosen = choose_workbook(phone, "list.xlsx", book)
    select = phone.get_by_label("Column to look up")
    select.wait_for()
    assert "choose" in phone.inner_text("#caseload-status")
    select.select_option(label="B: Postcode")
    phone.get_by_role("button", name="Look up these postcodes").click()
    phone.wait_for_selector("#caseload[data-state=ready]")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.screenshot(path=str(artifacts / "page-caseload-phone.png"), full_page=False)
    name, data = download(phone)
    assert name == "list with patches.xlsx"
    assert [p for s in sent for p in s["body"]["postcodes"]] == [
        tidy(p) for p in picks if p.strip()
    ]

    back = openpyxl.load_workbook(io.BytesIO(data))
    assert back.sheetnames == ["Clients", "Other"]
    before = openpyxl.load_workbook(io.BytesIO(chosen))["Clients"]  # as saved
    after = back["Clients"]
    assert after.max_row == before.max_row and after.max_column == before.max_column + 6
    for r in range(1, before.max_row + 1):
        for c in range(1, before.max_column + 1):
            assert after.cell(r, c).value == before.cell(r, c).value, (r, c)
    assert after["A1"].font.bold and after["E2"].value == "=D2*2"
    assert [c.value for c in after[1]][6:] == ADDED
    assert [[c.value for c in row] for row in back["Other"].iter_rows()] == [["untouched", 42]]
    added = [
        [c.value if c.value is not None else "" for c in row[6:]]
        for row in after.iter_rows(min_row=2)
    ]
    first = expected_cells(live_server, tidy(picks[0]))
    assert added[0][:3] + [str(added[0][3])] + added[0][4:] == first
    assert isinstance(added[0][3], int)
    assert added[1] == ["", "", "", "", "", "No postcode"]
    assert added[2][5] == live_server.api(f"/postcodes/{quote(OUTSIDE)}")[1]["title"]
    assert added[3][5] == live_server.api(f"/postcodes/{quote(MALFORMED)}")[1]["title"]


def test_added_cells_that_look_like_formulas_are_written_as_text(
    page: Any, live_server: Server, london: list[dict[str, str]]
) -> None:
    """The lookup's answer is edited on its way to the page so that names start with
    = + - @; the CSV written back holds them behind an apostrophe, never as formulas."""
    postcode = london[20]["postcode"]
    names = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"]

    def edit(route: Any) -> None:
        answer = route.fetch().json()
        patch = answer["results"][0]["result"]
        patch["ward"]["name"], patch["borough"]["name"] = names[0], names[1]
        for service, name in zip(patch["services"], names[2:], strict=False):
            service["name"] = name
        route.fulfill(json=answer)

    page.route("**/api/v1/patch/lookup", edit)
    page.goto(live_server.url("/"))
    choose(page, "one.csv", f"Name,Postcode\nA,{postcode}\n".encode(), "text/csv")
    _, data = download(page)
    back = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert back[1][:4] == ["A", postcode, "'" + names[0], "'" + names[1]]
    assert back[1][6].startswith("'-2; @SUM(A1)")  # the cell starts with -: one apostrophe


def test_a_file_that_is_not_csv_or_xlsx_is_told_in_words(page: Any, live_server: Server) -> None:
    page.goto(live_server.url("/"))
    sent = lookups(page)
    page.set_input_files(
        "#caseload-file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"x"}]
    )
    alert = page.locator("#caseload-problem")
    alert.wait_for()
    assert "Not a CSV or XLSX file" in alert.inner_text()
    assert "notes.txt" in alert.inner_text() and sent == []


def test_postcodes_held_as_formulas_with_no_saved_result_are_told_in_words(
    page: Any, live_server: Server, london: list[dict[str, str]]
) -> None:
    """A workbook whose postcode column holds formulas saved without their results (as
    openpyxl and many exporters write them) read as empty cells: every row "No postcode"
    (a row of such formulas alone was not even a row). Now the page names the cells and
    what to do, sends nothing, and offers the columns again. Formulas elsewhere in the
    sheet are no problem (the workbook test above has one)."""
    postcode = london[30]["postcode"]
    outcode, incode = postcode.split(" ")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "Postcode"])
    for i in range(7):
        sheet.append([f"Client {i}", f'="{outcode} "&"{incode}"'])
    sheet.append([None, f'="{outcode} "&"{incode}"'])  # a row of such a formula alone

    page.goto(live_server.url("/"))
    sent = lookups(page)
    choose_workbook(page, "made.xlsx", book)
    alert = page.locator("#caseload-problem")
    alert.wait_for()
    text = alert.inner_text()
    assert "This column could not be read" in text
    assert "Cell B2, B3, B4, B5, B6 and 3 more of the postcode column hold formulas" in text
    assert "Open the file in Excel or LibreOffice and save it" in text
    assert sent == [] and page.get_attribute("#caseload", "data-state") is None
    # another column may be chosen without choosing the file again
    assert page.is_visible("#caseload-pick")
    assert page.input_value("#caseload-column") == "1"
