"""Every live London postcode, through the API, against the source file.

Also walks the point-in-area engine at every postcode's grid reference and reports how
often the borough found from the point agrees with the postcode file's borough; each
disagreement must be flagged (on the river, or near a borough boundary).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pytest
import shapely

from directory.usecases.geography import resolve_point

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def source(shared_data_dir: Path) -> list[dict[str, str]]:
    with open(
        shared_data_dir / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv", newline=""
    ) as f:
        return list(csv.DictReader(f))


def test_every_postcode_resolves_to_its_borough_and_ward(client, source):
    assert len(source) == 180_792
    mismatches = []
    for start in range(0, len(source), 1000):
        chunk = source[start : start + 1000]
        # send them in awkward forms: lower case, no space
        sent = [r["postcode"].lower().replace(" ", "") for r in chunk]
        response = client.post("/api/v1/postcodes/lookup", json={"postcodes": sent})
        assert response.status_code == 200
        for row, item in zip(chunk, response.get_json()["results"], strict=True):
            result = item.get("result")
            if (
                result is None
                or result["postcode"] != row["postcode"]
                or result["borough"]["code"] != row["laua_code"]
                or result["ward"]["code"] != row["ward_code"]
            ):
                mismatches.append((row["postcode"], item))
    assert mismatches == []


#: the locate walk's misses, by the fingerprint of what the engine reads (below)
_WALKS: dict[bytes, list[tuple[str, Any]]] = {}


def _engine_inputs(snap: Any, settings: Any) -> bytes:
    """A digest of everything ``resolve_point`` reads: every area's code, type, name and
    parent, its polygon, and the margins. The walk is a pure function of these, so a
    backend whose snapshot digests the same has the same walk: it is not walked twice."""
    digest = hashlib.sha256()
    for code in sorted(snap.areas):
        area = snap.areas[code]
        digest.update(repr((code, area.type, area.name, area.parent_code)).encode())
        digest.update(shapely.to_wkb(snap.geometries[code]))
    margins = (settings.river_tolerance_m, settings.boundary_margin_m, settings.ward_margin_m)
    digest.update(repr(margins).encode())
    return digest.digest()


def test_locate_at_every_postcode_agrees_with_its_borough(geo_app, source, capsys):
    from directory.web.state import geography_repo, state

    with geo_app.app_context():
        snap = state().geography.get(geography_repo())
        settings = state().settings
        key = _engine_inputs(snap, settings)
        if key not in _WALKS:
            misses = []
            for row in source:
                x, y = float(row["eastings"]), float(row["northings"])
                found = resolve_point(snap, settings, x, y)
                if row["laua_code"] not in found.boroughs:
                    misses.append((row["postcode"], found))
            _WALKS[key] = misses
        misses = _WALKS[key]
    agreement = 1 - len(misses) / len(source)
    with capsys.disabled():
        print(
            f"\nlocate agreement with the postcode file's borough: {agreement:.5%} "
            f"({len(source) - len(misses):,} of {len(source):,}; "
            f"{sum(m[1].flags['on_river'] for m in misses)} misses on the river)"
        )
    assert agreement > 0.9995
    unflagged = [
        pc for pc, found in misses if not (found.flags["on_river"] or found.flags["near_boundary"])
    ]
    assert unflagged == []
