"""The change feed's Atom entries in words (directory/usecases/changes.py), on SQLite and
PostgreSQL: a service's sites, lists and empty values as a SPOC reads them in a mail client
or feed reader, while the JSON answer keeps the values as recorded."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from directory.cli import cli

ATOM = "{http://www.w3.org/2005/Atom}"


def _service(coverage: list[str], locations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An Open Referral service (one import gives each of its locations as a site)."""
    return [{
        "id": "FEED-1", "name": "Feed club", "status": "active",
        "organization": {"id": "GB-FEED-1", "name": "Feed Trust"},
        "service_areas": [{"id": f"sa-{i}", "name": name} for i, name in enumerate(coverage)],
        "service_at_locations": [
            {"id": f"sal-{loc['id']}", "location": loc} for loc in locations
        ],
    }]  # fmt: skip


def _location(ref: str, name: str, street: str, postcode: str) -> dict[str, Any]:
    return {"id": ref, "name": name,
            "addresses": [{"address_1": street, "city": "London", "postal_code": postcode}]}  # fmt: skip


def _import(app: Any, tmp_path: Path, name: str, body: list[dict[str, Any]]) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(body), "utf-8")
    result = app.test_cli_runner().invoke(
        cli, ["import", str(path), "--format", "hsds", "--source", "feed"]
    )
    assert result.exit_code == 0, result.output


def _places(client: Any, postcode: str) -> tuple[str, str]:
    """The names of the ward and borough the geography puts a postcode in."""
    body = client.get(f"/api/v1/postcodes/{postcode}").get_json()
    return body["ward"]["name"], body["borough"]["name"]


def test_a_feed_entry_says_in_words_which_sites_moved_and_were_added(writable_app, tmp_path):
    """An import that moves a site to another borough, adds a site and widens the
    coverage: the feed entry names each site by ref, address, postcode, ward and borough
    (it printed ``locations: [{'ref': …}] → [...]``), the coverage as names separated by
    commas; the JSON answer keeps the values as recorded."""
    hub = _location("hub", "Hub", "1 Eden Street", "KT1 1EU")
    _import(writable_app, tmp_path, "first", _service(["Kingston"], [hub]))
    moved = _location("hub", "Hub", "1 Mare Street", "E8 1DY")
    depot = _location("depot", "Depot", "2 Penrhyn Road", "KT1 1AE")
    _import(writable_app, tmp_path, "second", _service(["Kingston", "Hackney"], [moved, depot]))
    client = writable_app.test_client()

    feed = client.get("/api/v1/changes.atom?area=Hackney")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.data)
    # RFC 4287 §4.1.1: a feed has an id, a title, an updated and (with entries lacking one)
    # an author; §4.1.2: each entry an id, a title and an updated
    for element in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{element}") is not None, element
    entry = next(
        e for e in root.iter(f"{ATOM}entry")
        if e.find(f"{ATOM}category").get("term") == "updated"
    )  # fmt: skip
    for element in ("id", "title", "updated"):
        assert entry.findtext(f"{ATOM}{element}"), element
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "text"
    lines = content.text.splitlines()

    kingston_ward, kingston = _places(client, "KT11EU")
    hackney_ward, hackney = _places(client, "E81DY")
    depot_ward, depot_borough = _places(client, "KT11AE")
    added = f"Site added: depot (Depot, 2 Penrhyn Road, London, KT1 1AE, {depot_ward}, "
    assert f"{added}{depot_borough})" in lines, lines
    (changed,) = [line for line in lines if line.startswith("Site changed: ")]
    assert changed.startswith(
        f"Site changed: hub (Hub, 1 Mare Street, London, E8 1DY, {hackney_ward}, {hackney}): "
    )
    assert "address 1 Eden Street, London → 1 Mare Street, London" in changed
    assert "postcode KT1 1EU → E8 1DY" in changed
    # (the sites an import records name their ward and borough, as a geography load's do)
    assert f"ward {kingston_ward} → {hackney_ward}" in changed
    assert f"borough {kingston} → {hackney}" in changed
    assert "map point " in changed
    assert f"coverage: {kingston} → {hackney}, {kingston}" in lines
    said = "\n".join(lines[1:])  # (the summary names the service in quotes)
    assert not any(mark in said for mark in ("[", "{", "'", "None", "True", "False")), said

    # the JSON answer keeps the values as recorded, for programs
    (event,) = [
        e for e in client.get("/api/v1/services/FEED-1/history").get_json()["contents"]
        if e["action"] == "updated"
    ]  # fmt: skip
    assert event["changes"]["coverage"] == {"old": ["E09000021"], "new": ["E09000012", "E09000021"]}
    sites = event["changes"]["locations"]["new"]
    assert [s["ref"] for s in sites] == ["depot", "hub"]
    assert {s["ref"]: s["postcode"] for s in sites} == {"depot": "KT11AE", "hub": "E81DY"}


def test_a_changes_values_in_words():
    """None is "none", a yes-or-no is yes or no, a list its values separated by commas, a
    site with no point is placed nowhere (not "outside London"), one whose point is
    outside London says so, and a site recorded before its places were is said without
    them."""
    from directory.usecases.changes import change_lines

    def names(code: str) -> str | None:
        return {"E09000021": "Kingston upon Thames"}.get(code)

    assert change_lines("email", None, "a@b.example", names) == ["email: none → a@b.example"]
    assert change_lines("demo", True, False, names) == ["demo: yes → no"]
    assert change_lines("themes", ["a", "b"], [], names) == ["themes: a, b → none"]
    assert change_lines("services", ["x"], None, names) == ["services: x → none"]
    assert change_lines("areas", ["E09000021", "E05099999"], [], names) == [
        "areas: Kingston upon Thames, E05099999 → none"
    ]
    bare = {"ref": "r", "name": None, "address": None, "postcode": None, "lat": None,
            "lon": None, "demo": False, "borough_code": None, "ward_code": None}  # fmt: skip
    away = {**bare, "lat": 52.0, "lon": 0.1}
    old_shape = {k: v for k, v in bare.items() if k not in ("borough_code", "ward_code")}
    assert change_lines("locations", [], [bare], names) == ["Site added: r"]
    assert change_lines("locations", [bare], [away], names) == [
        "Site changed: r (outside London): map point none → 52.0, 0.1"
    ]
    assert change_lines("locations", [old_shape], [{**bare, "name": "Hall"}], names) == [
        "Site changed: r (Hall): name none → Hall"
    ]
    assert change_lines("locations", [away], None, names) == ["Site removed: r (outside London)"]
