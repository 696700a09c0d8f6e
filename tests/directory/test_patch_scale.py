"""The patch at scale (issue 14): a page costs what the page costs, and the answer is the
same as working it out the slow way.

A generated directory of 3,000 services (scripts/make_directory.py: London-wide, BCU-wide,
two-borough and borough services, 70% with a site) is imported; then, for postcodes across
London, areas of every level and several filters, every page of the patch is compared with
a reference worked out naively in the test from the index's services and sites: every
service tested against the place, its reasons collected, then sorted by the documented
order (relation, distance, name, id). Counts, totals, order, reasons and their areas must
all agree, on SQLite and PostgreSQL. (The cost is measured by scripts/bench_scale.py.)
"""

from __future__ import annotations

import csv
import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from directory import create_app
from directory.cli import cli
from directory.ingest.readers import write_table
from directory.ingest.template import HEADINGS
from directory.usecases.patch.index import RANK
from tests.conftest import BACKENDS, geography_copy

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from make_directory import generate  # noqa: E402

POSTCODES = Path("postcodes") / "london_postcodes_codepoint_open_2025_10.csv"


#: coverage naming areas on one line (a ward and its borough, a borough and its BCU or
#: London): awards a patch reaches through two of its areas, counted once
OVERLAPPING = (
    "Kingston; pan-London",
    "South West BCU; Kingston upon Thames",
    "E05013938; Kingston upon Thames",
    "Southwark; Lambeth; pan-London",
    "Central South BCU; pan-London",
    "Westminster; Central West BCU",
)


def _import(app: Any, tmp: Path, data_dir: Path, n: int, seed: int) -> None:
    path = tmp / f"generated-{n}.csv"
    rows = generate(n, seed, data_dir)
    column = list(HEADINGS).index("Coverage")
    funder, programme = list(HEADINGS).index("Funder"), list(HEADINGS).index("Programme")
    for number, row in enumerate(rows[: 20 * len(OVERLAPPING)]):
        row[column] = OVERLAPPING[number % len(OVERLAPPING)]
        if number % 3 == 0:  # a funder and no programme: not community safety
            row[funder], row[programme] = "Example Trust", ""
    write_table(path, list(HEADINGS), rows, format="csv")
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "gen", "--quiet"])
    assert result.exit_code == 0, result.output


def _postcodes(data_dir: Path, count: int, seed: int) -> list[str]:
    with (data_dir / POSTCODES).open(encoding="utf-8", newline="") as f:
        rows = [r["postcode"] for r in csv.DictReader(f) if not r.get("date_terminated")]
    return random.Random(seed).sample(rows, count)


def _index(app: Any) -> Any:
    client = app.test_client()
    assert client.get("/api/v1/patch?area=E09000022").status_code == 200  # builds the index
    return app.extensions["directory"].directory._index


def _reference(index: Any, body: dict[str, Any], theme: str | None, status: str | None,
               q: str | None, radius: float) -> tuple[list[int], dict[int, list[tuple[str, Any]]]]:  # fmt: skip
    """The patch worked out the slow way: (ids in order, sid → [(relation, area code or
    distance)])."""
    point = (body["easting"], body["northing"]) if body.get("match") == "postcode" else None
    if point is not None:
        ward = body["ward"]["code"] if body["ward"] else None
        areas = {"serves_ward": [ward] if ward else [], "serves_borough": [body["borough"]["code"]],
                 "serves_bcu": [body["bcu"]["code"]] if body["bcu"] else [],
                 "serves_london": ["E12000007"]}  # fmt: skip
        site_areas: list[str] = []
    else:
        areas = {}
        for relation, codes in (
            ("serves_ward", [body["ward"]["code"]] if body["ward"] else []),
            ("serves_part", []),
            ("serves_borough", [body["borough"]["code"]] if body["borough"] else []),
            ("serves_bcu", [body["bcu"]["code"]] if body["bcu"] else []),
            ("serves_london", ["E12000007"]),
        ):
            areas[relation] = codes
        asked = body["area"]["code"]
        snap_children = _descendants(index, asked)
        areas["serves_part"] = sorted(snap_children)
        kind = body["area"]["type"]
        site_areas = [asked] if kind in ("ward", "borough") else [
            c for c in snap_children if c.startswith("E09")
        ]  # fmt: skip
    nearest: dict[int, float] = {}
    if point is not None:
        for sites in index.cells.values():
            for site in sites:
                d = math.hypot(site.x - point[0], site.y - point[1])
                if d <= radius and d < nearest.get(site.service_id, math.inf):
                    nearest[site.service_id] = d
    found: dict[int, list[tuple[str, Any]]] = {}
    for sid, service in index.services.items():
        b = service.body
        if status is not None and b["status"] != status:
            continue
        if theme is not None and theme not in {t["id"] for t in b["themes"]}:
            continue
        if q is not None and any(w not in service.text for w in q.casefold().split()):
            continue
        reasons: list[tuple[str, Any]] = []
        if sid in nearest:
            reasons.append(("site_nearby", round(nearest[sid])))
        if any(
            (s["ward"] and s["ward"]["code"] in site_areas)
            or (s["borough"] and s["borough"]["code"] in site_areas)
            for s in b["sites"]
        ):
            reasons.append(("site_in_area", None))
        covered = {c["code"] for c in b["coverage"]}
        for relation, codes in areas.items():
            reasons.extend((relation, code) for code in codes if code in covered)
        if reasons:
            found[sid] = reasons

    def key(sid: int) -> tuple[Any, ...]:
        best = min(RANK[r] for r, _ in found[sid])
        distance = min((v for r, v in found[sid] if r == "site_nearby"), default=math.inf)
        return (best, distance, index.services[sid].sort_name, sid)

    return sorted(found, key=key), found


def _descendants(index: Any, code: str) -> set[str]:
    """The area codes inside ``code`` (read through the areas API by _load_descendants)."""
    return _DESCENDANTS[code]


_DESCENDANTS: dict[str, set[str]] = {}


def _load_descendants(client: Any, code: str) -> None:
    found: set[str] = set()
    stack = [code]
    while stack:
        area = client.get(f"/api/v1/areas/{stack.pop()}").json
        for child in area.get("children", []):
            found.add(child["code"])
            stack.append(child["code"])
    _DESCENDANTS[code] = found


def _check(client: Any, index: Any, url: str, theme: str | None = None,
           status: str | None = "active", q: str | None = None, radius: float = 2000) -> int:  # fmt: skip
    per_page = 25
    first = client.get(url + "&per_page=25")
    assert first.status_code == 200, first.json
    body = first.json
    ordered, found = _reference(index, body, theme, status, q, radius)
    assert body["services"]["total_items"] == len(ordered) == body["counts"]["services"]
    for relation in RANK:
        expected = sum(1 for sid in ordered if any(r == relation for r, _ in found[sid]))
        assert body["counts"][relation] == expected, (url, relation)
    pages = max(1, math.ceil(len(ordered) / per_page))
    nearby = sum(1 for sid in ordered if found[sid][0][0] == "site_nearby")
    asked = sorted({1, 2, pages, pages + 1, nearby // per_page + 1, (nearby // per_page) + 2})
    for page in asked:
        answer = first.json if page == 1 else client.get(f"{url}&per_page=25&page={page}").json
        got = answer["services"]["contents"]
        expected_ids = ordered[(page - 1) * per_page : page * per_page]
        assert [s["id"] for s in got] == expected_ids, (url, page)
        for s in got:
            want = sorted(
                found[s["id"]], key=lambda r: (RANK[r[0]], r[1] if r[0] == "site_nearby" else 0)
            )
            have = [
                (r["relation"], r.get("distance_m") if r["relation"] == "site_nearby"
                 else (r["area"]["code"] if "area" in r else None))
                for r in s["relations"]
            ]  # fmt: skip
            assert have == want, (url, s["id"])
    return len(ordered)


@pytest.fixture(scope="module", params=BACKENDS)
def generated_app(request, tmp_path_factory, shared_data_dir):
    """The 3,000 generated services, imported once per backend for the module: both tests
    only read them."""
    tmp = tmp_path_factory.mktemp("patch-scale")
    app = create_app(geography_copy(request, request.param, tmp))
    _import(app, tmp, shared_data_dir, 3_000, seed=14)
    yield app
    app.extensions["directory"].db.dispose()


def test_every_page_of_the_patch_agrees_with_the_slow_way(generated_app, shared_data_dir):
    client = generated_app.test_client()
    index = _index(generated_app)
    for code in ("E09000022", "bcu-central-south", "E12000007", "E05013938"):
        _load_descendants(client, code)
    sizes = []
    for pc in _postcodes(shared_data_dir, 25, seed=3):
        sizes.append(_check(client, index, "/api/v1/patch?postcode=" + pc.replace(" ", "+")))
    pc = _postcodes(shared_data_dir, 1, seed=4)[0].replace(" ", "+")
    _check(
        client,
        index,
        f"/api/v1/patch?postcode={pc}&theme=violence-knife-crime",
        theme="violence-knife-crime",
    )
    _check(client, index, f"/api/v1/patch?postcode={pc}&status=any", status=None)
    _check(client, index, f"/api/v1/patch?postcode={pc}&q=youth", q="youth")
    _check(client, index, f"/api/v1/patch?postcode={pc}&radius=5000", radius=5000)
    for code in ("E09000022", "bcu-central-south", "E12000007", "E05013938"):
        sizes.append(_check(client, index, f"/api/v1/patch?area={code}"))
        _check(
            client,
            index,
            f"/api/v1/patch?area={code}&theme=violence-knife-crime",
            theme="violence-knife-crime",
        )
    assert min(sizes) > 25  # every patch has pages beyond the first to compare


def test_the_money_reaching_a_patch_is_the_same_summed_by_area_as_award_by_award(
    generated_app, shared_data_dir
):
    """The funding summary and awards of a patch add each area above it from sums kept per
    area, taking back the awards counted twice; the same answers worked out award by award
    (compose=False) must agree for postcodes, areas of every level and every filter."""
    from datetime import date

    from directory.store.repositories.geography import GeographyRepository
    from directory.usecases.patch import answer, place_for_area, resolve_place
    from directory.web.state import snapshot

    client = generated_app.test_client()
    index = _index(generated_app)
    state = generated_app.extensions["directory"]
    with generated_app.test_request_context():
        snap = snapshot()
    places = [place_for_area(code, snap) for code in
              ("E09000022", "bcu-central-south", "E12000007", "E05013938", "E09000001")]  # fmt: skip
    with state.db.engine.connect() as connection:
        repo = GeographyRepository(connection)
        for pc in _postcodes(shared_data_dir, 30, seed=5):
            places.append(resolve_place(snap, repo, state.settings, postcode=pc))
    days = [date.today(), date(2023, 6, 1), date(2025, 4, 1)]
    checked = 0
    for place in places:
        for day in days:
            for everything in (False, True):
                fast = answer._funding_summary(index, snap, place, day, everything)
                slow = answer._funding_summary(index, snap, place, day, everything, compose=False)
                assert fast == slow, (place.geography, day, everything)
                for programme in (None, "vru"):
                    fast = answer._patch_awards(index, place, day, everything, programme, snap)
                    slow = answer._patch_awards(
                        index, place, day, everything, programme, snap, compose=False
                    )
                    assert fast == slow, (place.geography, day, everything, programme)
                    checked += fast["total"]
    assert checked > 10_000  # the areas above the patches held awards to compose
    assert client.get("/api/v1/patch?postcode=SE1+7PB").status_code == 200
