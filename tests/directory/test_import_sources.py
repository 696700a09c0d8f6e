"""Which source an import writes as, and what a full import may withdraw: records another
source holds are not taken over without being told to (and then it is a change, counted,
named and recorded), a full import names its source, withdraws at most half of what its
source holds unless told to, names what it withdrew and restored, and leaves the
opportunities of a file without an Opportunities sheet as held."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.directory.test_import import (
    HEADER,
    OXYGEN,
    RESCUE,
    _opportunity_rows,
    _oxygens,
    _rows,
    _workbook,
    dump,
    events,
    run,
    write,
)
from tests.directory.test_keys import make_key, upload


def _source_of(app: Any, ref: str) -> str:
    return app.test_client().get(f"/api/v1/services/{ref}").json["source"]


def _imported(app: Any, path: Path, *args: str) -> dict[str, Any]:
    result = run(app, "import", str(path), "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# -- records held by another source ---------------------------------------------------------
def test_a_file_listing_another_sources_records_is_refused_naming_it(writable_app, tmp_path):
    """An export imported as another source (the reviewer's `--source mopac-weekly`) said
    "unchanged" and moved every record to it: now it is refused, nothing written, the
    message naming the source they are held from, how many and what to do."""
    both = write(tmp_path, "both.csv", HEADER + OXYGEN + RESCUE)
    _imported(writable_app, both, "--source", "demo-decisions")
    exported = tmp_path / "ex.xlsx"
    assert run(writable_app, "export", str(exported)).exit_code == 0
    before, seen = dump(writable_app), len(events(writable_app))
    result = run(writable_app, "import", str(exported), "--source", "mopac-weekly")
    assert result.exit_code == 1, result.output
    assert "2 services this file lists are held from source 'demo-decisions'" in result.output
    assert "OXY-KT-01, SL-RR-01" in result.output and "--take-over" in result.output
    assert "unchanged" not in result.output
    assert dump(writable_app) == before and len(events(writable_app)) == seen
    assert _source_of(writable_app, "SL-RR-01") == "demo-decisions"


def test_taking_records_over_is_a_change_counted_named_and_recorded(writable_app, tmp_path):
    both = write(tmp_path, "both.csv", HEADER + OXYGEN + RESCUE)
    _imported(writable_app, both, "--source", "demo-decisions")
    seen = len(events(writable_app))
    report = _imported(writable_app, both, "--source", "mopac-weekly", "--take-over")
    assert report["status"] == "succeeded"
    assert report["counts"]["services"]["moved"] == 2
    assert report["counts"]["services"]["unchanged"] == 0
    moved = report["records"]["services"]["moved"]
    assert {(r["ref"], r["from"]) for r in moved} == {
        ("OXY-KT-01", "demo-decisions"), ("SL-RR-01", "demo-decisions"),
    }  # fmt: skip
    warned = [p["message"] for p in report["problems"] if "moved from source" in p["message"]]
    assert warned == [
        "Services: 2 moved from source 'demo-decisions' to 'mopac-weekly' (OXY-KT-01, SL-RR-01).",
        "Grants: 2 moved from source 'demo-decisions' to 'mopac-weekly' (OXY-KT-01#grant, "
        "SL-RR-01#grant).",
    ]
    assert report["counts"]["grants"]["moved"] == 2
    assert _source_of(writable_app, "SL-RR-01") == "mopac-weekly"
    new = [e for e in events(writable_app)[seen:] if e.entity == "service"]
    assert {(e.entity_ref, e.action) for e in new} == {
        ("OXY-KT-01", "updated"), ("SL-RR-01", "updated"),
    }  # fmt: skip
    assert all(e.changes == {"source": ["demo-decisions", "mopac-weekly"]} for e in new)
    client = writable_app.test_client()
    latest = client.get("/api/v1/services/SL-RR-01/history").json["contents"][0]
    assert latest["changes"] == {"source": {"old": "demo-decisions", "new": "mopac-weekly"}}
    run_id = report["run_id"]
    detail = client.get(f"/api/v1/imports/{run_id}").json
    assert detail["status"] == "succeeded"
    assert [r["ref"] for r in detail["records"]["services"]["moved"]] == ["OXY-KT-01", "SL-RR-01"]
    assert detail["records"]["services"]["moved"][0]["from"] == "demo-decisions"
    # the same file again: nothing left to move
    again = _imported(writable_app, both, "--source", "mopac-weekly")
    assert again["status"] == "unchanged"


def test_an_upload_listing_another_sources_records_is_refused_unless_told(writable_app, tmp_path):
    key = make_key(writable_app, "officer", "--name", "officer")["key"]
    body = HEADER + OXYGEN + RESCUE
    assert upload(writable_app, body, key=key, source="a").status_code == 201
    refused = upload(writable_app, body, key=key, source="b")
    assert refused.status_code == 422 and refused.json["code"] == "import-failed"
    errors = [p["message"] for p in refused.json["problems"] if p["severity"] == "error"]
    assert [e.split(" (")[0] for e in errors] == [
        "2 services this file lists are held from source 'a'",
        "2 grants this file lists are held from source 'a'",
    ]
    assert "take_over=true" in errors[0]
    taken = upload(writable_app, body, key=key, source="b", take_over="true")
    assert taken.status_code == 201, taken.get_data(as_text=True)
    assert taken.json["counts"]["services"]["moved"] == 2
    assert {r["from"] for r in taken.json["records"]["services"]["moved"]} == {"a"}


# -- a full import names its source ----------------------------------------------------------
def test_a_full_import_without_a_source_is_a_usage_error(writable_app, tmp_path):
    """Each week's file named by its week was a source of its own, which never withdrew
    anything."""
    week49 = write(tmp_path, "week49.csv", HEADER + OXYGEN + RESCUE)
    result = run(writable_app, "import", str(week49), "--mode", "full")
    assert result.exit_code == 2, result.output
    assert "A full import withdraws what its source no longer lists" in result.output
    assert writable_app.test_client().get("/api/v1/services").json["total_items"] == 0


def test_a_full_upload_without_a_source_is_a_422_problem(writable_app):
    key = make_key(writable_app, "officer", "--name", "officer")["key"]
    response = upload(writable_app, HEADER + OXYGEN, key=key, name="week49.csv", mode="full")
    assert response.status_code == 422 and response.json["code"] == "invalid-input"
    assert "needs the source named" in response.json["detail"]
    assert writable_app.test_client().get("/api/v1/imports").json["total_items"] == 0


# -- what a full import withdraws -------------------------------------------------------------
def test_a_dry_run_and_the_run_name_what_they_withdraw_and_restore(writable_app, tmp_path):
    """Counts alone ("1 withdrawn") did not say which: the dry run (text and JSON) and the
    run name them, the text the first 10 and how many more; /changes takes the run."""
    _imported(writable_app, write(tmp_path, "w.csv", _oxygens(14)), "--source", "w")
    kept = _oxygens(14).splitlines(keepends=True)[:3]  # the headings and OXY-1, OXY-2
    fewer = write(tmp_path, "w.csv", "".join(kept))
    dry = run(writable_app, "import", str(fewer), "--source", "w", "--mode", "full",
              "--dry-run", "--allow-withdrawals")  # fmt: skip
    assert dry.exit_code == 0, dry.output
    shown = ", ".join(f"OXY-{n} (Oxygen programme {n})" for n in range(3, 13))
    assert f"  services withdrawn: {shown} and 2 more" in dry.output
    report = _imported(writable_app, fewer, "--source", "w", "--mode", "full",
                       "--dry-run", "--allow-withdrawals")  # fmt: skip
    named = report["records"]["services"]["withdrawn"]
    assert [r["ref"] for r in named] == [f"OXY-{n}" for n in range(3, 15)]
    assert named[0]["name"] == "Oxygen programme 3"
    done = _imported(writable_app, fewer, "--source", "w", "--mode", "full", "--allow-withdrawals")
    client = writable_app.test_client()
    detail = client.get(f"/api/v1/imports/{done['run_id']}").json
    assert [r["ref"] for r in detail["records"]["services"]["withdrawn"]] == [
        f"OXY-{n}" for n in range(3, 15)
    ]
    feed = client.get(f"/api/v1/changes?import_run={done['run_id']}&per_page=100").json
    assert feed["total_items"] == len(feed["contents"]) > 0
    assert {e["import_run"] for e in feed["contents"]} == {done["run_id"]}
    assert {e["entity_ref"] for e in feed["contents"] if e["entity"] == "service"} == {
        f"OXY-{n}" for n in range(3, 15)
    }
    back = _imported(writable_app, write(tmp_path, "w.csv", _oxygens(4)), "--source", "w")
    assert [r["ref"] for r in back["records"]["services"]["restored"]] == ["OXY-3", "OXY-4"]


def test_a_full_import_withdrawing_more_than_half_of_its_source_is_refused(writable_app, tmp_path):
    """A file cut short, or another source's, withdrew whatever it did not list: more than
    half of a source's records (of more than a handful) is refused unless allowed."""
    lines = _oxygens(14).splitlines(keepends=True)
    whole = write(tmp_path, "whole.csv", "".join(lines))
    _imported(writable_app, whole, "--source", "w")
    half = write(tmp_path, "half.csv", "".join(lines[:8]))  # (the headings and 7)
    report = _imported(writable_app, half, "--source", "w", "--mode", "full")
    assert report["counts"]["services"]["withdrawn"] == 7  # half is not refused
    _imported(writable_app, whole, "--source", "w")  # (restored)
    before = dump(writable_app)
    cut = write(tmp_path, "cut.csv", "".join(lines[:4]))
    result = run(writable_app, "import", str(cut), "--source", "w", "--mode", "full")
    assert result.exit_code == 1, result.output
    assert "would withdraw 11 of the 14 services source 'w' holds" in result.output
    assert "--allow-withdrawals" in result.output
    assert dump(writable_app) == before
    key = make_key(writable_app, "officer", "--name", "officer")["key"]
    body = cut.read_text()
    refused = upload(writable_app, body, key=key, source="w", mode="full")
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert "allow_withdrawals=true" in refused.json["problems"][0]["message"]
    allowed = upload(writable_app, body, key=key, source="w", mode="full", allow_withdrawals="true")
    assert allowed.status_code == 201, allowed.get_data(as_text=True)
    assert allowed.json["counts"]["services"]["withdrawn"] == 11


# -- opportunities --------------------------------------------------------------------------
def test_a_workbook_without_an_opportunities_sheet_leaves_them_as_held(writable_app, tmp_path):
    """Only a workbook's Opportunities sheet (even one with its headings alone) says what
    its source's opportunities are: a workbook without one, a CSV or an export withdrew
    them all in a full import."""
    services = ("Services", _rows(OXYGEN, RESCUE), "visible")
    opportunities = ("Opportunities", _opportunity_rows(), "visible")
    first = _workbook(tmp_path / "with.xlsx", services, opportunities)
    assert _imported(writable_app, first, "--source", "w")["counts"]["opportunities"]["created"]
    without = _workbook(tmp_path / "without.xlsx", services)
    report = _imported(writable_app, without, "--source", "w", "--mode", "full")
    assert report["status"] == "unchanged"
    assert "opportunities" not in report["counts"]
    csv = write(tmp_path, "w.csv", HEADER + OXYGEN + RESCUE)
    assert _imported(writable_app, csv, "--source", "w", "--mode", "full")["status"] == "unchanged"
    client = writable_app.test_client()
    assert client.get("/api/v1/opportunities/sheet-round-1").json["status"] != "withdrawn"
    # a sheet with its headings alone lists none: they are withdrawn
    empty = ("Opportunities", _opportunity_rows()[:1], "visible")
    emptied = _workbook(tmp_path / "empty.xlsx", services, empty)
    report = _imported(writable_app, emptied, "--source", "w", "--mode", "full")
    assert report["counts"]["opportunities"]["withdrawn"] == 1
    assert report["records"]["opportunities"]["withdrawn"] == [
        {"ref": "sheet-round-1", "name": "A round"}
    ]
    assert client.get("/api/v1/opportunities/sheet-round-1").json["status"] == "withdrawn"


def test_a_refresh_source_takes_over_and_withdraws_only_as_its_sources_file_says(
    writable_app, tmp_path
):
    """`directory refresh` runs its sources unattended: the sources file says, per source,
    what `--take-over` and `--allow-withdrawals` say to `directory import` (without them a
    source overlapping another, or cut short, is refused and the others still run)."""
    both = write(tmp_path, "both.csv", HEADER + OXYGEN + RESCUE)
    _imported(writable_app, both, "--source", "other")
    lines = _oxygens(14).splitlines(keepends=True)
    write(tmp_path, "whole.csv", "".join(lines))
    _imported(writable_app, tmp_path / "whole.csv", "--source", "weekly")
    write(tmp_path, "cut.csv", "".join(lines[:4]))
    sources = tmp_path / "sources.toml"

    def refreshed(taking: str, allowing: str) -> str:
        sources.write_text(
            f"[[source]]\nname = 'takes'\npath = 'both.csv'\n{taking}"
            f"[[source]]\nname = 'weekly'\npath = 'cut.csv'\nmode = 'full'\n{allowing}",
            "utf-8",
        )
        return run(writable_app, "refresh", "--sources", str(sources)).output

    said = refreshed("", "")
    assert "held from source 'other'" in said and "would withdraw 11 of the 14" in said
    assert _source_of(writable_app, "SL-RR-01") == "other"
    said = refreshed("take_over = true\n", "allow_withdrawals = true\n")
    assert _source_of(writable_app, "SL-RR-01") == "takes"
    assert "withdrawn" in said and "would withdraw" not in said
    sources.write_text("[[source]]\nname = 'x'\npath = 'a.csv'\ntake_over = 'yes'\n", "utf-8")
    result = run(writable_app, "refresh", "--sources", str(sources))
    assert result.exit_code != 0 and "take_over must be true or false" in result.output


def test_an_opportunity_another_source_holds_is_taken_over_only_when_told(writable_app, tmp_path):
    """A funding round listed by a second source moved to it silently whenever the file
    changed it (and stayed when it did not): as a service's, its move is refused unless
    told, then counted, named and recorded; an edit over the API leaves it with its
    source."""
    rounds = ("Opportunities", _opportunity_rows(), "visible")
    first = _workbook(tmp_path / "a.xlsx", ("Services", _rows(OXYGEN), "visible"), rounds)
    second = _workbook(tmp_path / "b.xlsx", ("Services", _rows(RESCUE), "visible"), rounds)
    _imported(writable_app, first, "--source", "a")
    before, seen = dump(writable_app), len(events(writable_app))
    result = run(writable_app, "import", str(second), "--source", "b")
    assert result.exit_code == 1, result.output
    assert "1 opportunity this file lists is held from source 'a' (sheet-round-1)" in result.output
    assert dump(writable_app) == before and len(events(writable_app)) == seen
    report = _imported(writable_app, second, "--source", "b", "--take-over")
    assert report["counts"]["opportunities"]["moved"] == 1
    assert report["records"]["opportunities"]["moved"] == [
        {"ref": "sheet-round-1", "name": "A round", "from": "a"}
    ]
    (moved,) = [e for e in events(writable_app)[seen:] if e.entity == "opportunity"]
    assert moved.action == "updated" and moved.changes["source"] == ["a", "b"]
    # source a's next full import, its round no longer listed, leaves it to b
    empty = ("Opportunities", _opportunity_rows()[:1], "visible")  # (the headings alone)
    alone = _workbook(tmp_path / "a2.xlsx", ("Services", _rows(OXYGEN), "visible"), empty)
    again = _imported(writable_app, alone, "--source", "a", "--mode", "full")
    assert again["counts"].get("opportunities", {}).get("withdrawn", 0) == 0
