"""The patch at scale (issue 14): a page costs what the page costs, and the answer is the
same as working it out the slow way.

A generated directory of 10,000 services (scripts/make_directory.py: London-wide, BCU-wide,
two-borough and borough services, 70% with a site) is imported; then, for postcodes across
London, areas of every level and several filters, every page of the patch is compared with
a reference worked out naively in the test from the database's own tables, read with plain
SQL (service, service_theme, service_area, location; and where the place is, from the
postcode and area tables), not through the app's index nor its geography: every service
tested against the place, its reasons collected, then sorted by the documented order
(relation, distance, name, id; the relations' order written out here). Where the answer
says the place is, and its counts, totals, order, reasons and their areas must all agree,
on SQLite and PostgreSQL. The funding summary and awards of postcodes and of areas of
every level are checked the same way against the grant tables (community safety or not,
by programme and funder; each award at the scope it reaches the patch at), and against
the app's award-by-award way, the one before the sums kept per area. (The cost is
measured by scripts/bench_scale.py.)

CI runs it at 10,000 services, as issue 14 asks (about a minute for both databases);
``DIRECTORY_TEST_PATCH_SERVICES=N`` runs the same cross-check on N.
"""

from __future__ import annotations

import csv
import math
import os
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Date, Integer, bindparam, text

from directory import create_app
from directory.cli import cli
from directory.data import org_id_key
from directory.data.community_safety import rule as community_safety_rule
from directory.ingest.readers import write_table
from directory.ingest.template import HEADINGS
from tests.bbox_pages import fast_and_sql
from tests.conftest import BACKENDS, geography_copy

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from make_directory import generate  # noqa: E402

POSTCODES = Path("postcodes") / "london_postcodes_codepoint_open_2025_10.csv"
#: how many generated services the cross-check imports
SERVICES = int(os.environ.get("DIRECTORY_TEST_PATCH_SERVICES", "10000"))
#: the patch's order of relations as the API documents it ("site nearby, site in area,
#: ward, part of area, borough, BCU, London"), written here rather than taken from the code
RANK = {
    relation: number
    for number, relation in enumerate((
        "site_nearby", "site_in_area", "serves_ward", "serves_part", "serves_borough",
        "serves_bcu", "serves_london",
    ))
}  # fmt: skip
LONDON = "E12000007"


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


@dataclass
class _Service:
    """A service as its tables hold it."""

    status: str
    sort_name: str
    text: str
    themes: set[str] = field(default_factory=set)
    coverage: set[str] = field(default_factory=set)
    site_areas: set[str] = field(default_factory=set)  # its sites' wards and boroughs
    sites: list[tuple[float, float]] = field(default_factory=list)  # easting, northing


def _from_database(app: Any) -> dict[int, _Service]:
    """Every listed service, read from the tables with plain SQL (not the app's index)."""
    services: dict[int, _Service] = {}
    with app.extensions["directory"].db.engine.connect() as c:
        for sid, name, status, search in c.execute(
            text("SELECT id, name, status, search_text FROM service WHERE withdrawn_at IS NULL")
        ):
            services[sid] = _Service(status, name.casefold(), (search or name).casefold())
        for sid, theme in c.execute(text("SELECT service_id, theme_id FROM service_theme")):
            if sid in services:
                services[sid].themes.add(theme)
        for sid, code in c.execute(text("SELECT service_id, area_code FROM service_area")):
            if sid in services:
                services[sid].coverage.add(code)
        for sid, ward, borough, e, n in c.execute(
            text("SELECT service_id, ward_code, borough_code, easting, northing FROM location")
        ):
            if sid not in services:
                continue
            services[sid].site_areas.update(code for code in (ward, borough) if code)
            if e is not None and n is not None:
                services[sid].sites.append((e, n))
    return services


@dataclass
class _Geography:
    """The areas as their table holds them, read with plain SQL: each one's type and the
    area it is in (a ward's borough, a borough's BCU, a BCU's region)."""

    types: dict[str, str]
    parents: dict[str, str | None]

    def inside(self, code: str) -> set[str]:
        """The areas inside ``code``, at every level below it."""
        children: dict[str, list[str]] = {}
        for child, parent in self.parents.items():
            if parent is not None:
                children.setdefault(parent, []).append(child)
        found: set[str] = set()
        stack = [code]
        while stack:
            for child in children.get(stack.pop(), ()):
                found.add(child)
                stack.append(child)
        return found

    def above(self, code: str) -> dict[str, str]:
        """``code`` and the areas it is in, by type (ward, borough, bcu, region)."""
        found: dict[str, str] = {}
        at: str | None = code
        while at is not None:
            found[self.types[at]] = at
            at = self.parents[at]
        return found


def _geography(app: Any) -> _Geography:
    with app.extensions["directory"].db.engine.connect() as c:
        rows = c.execute(text("SELECT code, type, parent_code FROM area")).all()
    return _Geography({code: kind for code, kind, _ in rows}, {code: up for code, _, up in rows})


def _postcode_row(app: Any, postcode: str) -> tuple[str, str, float, float]:
    """(ward, borough, easting, northing) of a postcode, read with plain SQL."""
    canonical = postcode.replace(" ", "").upper()
    with app.extensions["directory"].db.engine.connect() as c:
        row = c.execute(
            text("SELECT ward_code, borough_code, easting, northing FROM postcode "
                 "WHERE canonical = :canonical"),
            {"canonical": canonical},
        ).one()  # fmt: skip
    return row[0], row[1], row[2], row[3]


def _patch_areas(levels: dict[str, str], inside: list[str]) -> dict[str, list[str]]:
    """A patch's areas by relation, in the documented order: its ward, the areas inside
    the area asked for, its borough, BCU and London (``levels``: :meth:`_Geography.above`)."""
    return {
        "serves_ward": [levels["ward"]] if "ward" in levels else [],
        "serves_part": inside,
        "serves_borough": [levels["borough"]] if "borough" in levels else [],
        "serves_bcu": [levels["bcu"]] if "bcu" in levels else [],
        "serves_london": [LONDON],
    }


def _reference(app: Any, services: dict[int, _Service], geo: _Geography, body: dict[str, Any],
               place: tuple[str, str], theme: str | None, status: str | None, q: str | None,
               radius: float) -> tuple[list[int], dict[int, list[tuple[str, Any]]]]:  # fmt: skip
    """The patch of ``place`` (("postcode", text) or ("area", code)) worked out the slow way
    from the tables: (ids in order, sid → [(relation, area code or distance)]). Where the
    place is, and the areas around and inside it, come from the postcode and area tables,
    and the answer's own must agree."""
    kind, asked = place
    if kind == "postcode":
        ward, borough, easting, northing = _postcode_row(app, asked)
        point: tuple[float, float] | None = (easting, northing)
        assert (body["easting"], body["northing"]) == point
        levels = geo.above(ward)
        assert levels["borough"] == borough
        site_areas: list[str] = []
        inside: list[str] = []
    else:
        point = None
        levels = geo.above(asked)
        inside = sorted(geo.inside(asked))
        site_areas = (
            [asked] if geo.types[asked] in ("ward", "borough")
            else [code for code in inside if geo.types[code] == "borough"]
        )  # fmt: skip
    for level in ("ward", "borough", "bcu"):
        shown = body[level]["code"] if body.get(level) else None
        assert shown == levels.get(level), (place, level)
    areas = _patch_areas(levels, inside)
    found: dict[int, list[tuple[str, Any]]] = {}
    for sid, service in services.items():
        if status is not None and service.status != status:
            continue
        if theme is not None and theme not in service.themes:
            continue
        # every word of q starts a word of the service's text (its loose words, as kept)
        if q is not None and not all(
            re.search(rf"(?<![a-z0-9]){re.escape(w)}", service.text) for w in q.casefold().split()
        ):
            continue
        reasons: list[tuple[str, Any]] = []
        if point is not None:
            nearest = min((math.hypot(e - point[0], n - point[1]) for e, n in service.sites),
                          default=math.inf)  # fmt: skip
            if nearest <= radius:
                reasons.append(("site_nearby", round(nearest)))
        if service.site_areas.intersection(site_areas):
            reasons.append(("site_in_area", None))
        for relation, codes in areas.items():
            reasons.extend((relation, code) for code in codes if code in service.coverage)
        if reasons:
            found[sid] = reasons

    def key(sid: int) -> tuple[Any, ...]:
        best = min(RANK[r] for r, _ in found[sid])
        distance = min((v for r, v in found[sid] if r == "site_nearby"), default=math.inf)
        return (best, distance, services[sid].sort_name, sid)

    return sorted(found, key=key), found


def _check(client: Any, services: dict[int, _Service], geo: _Geography, place: tuple[str, str],
           query: str = "", theme: str | None = None, status: str | None = "active",
           q: str | None = None, radius: float = 2000) -> int:  # fmt: skip
    kind, asked = place
    url = f"/api/v1/patch?{kind}={asked.replace(' ', '+')}{query}"
    per_page = 25
    first = client.get(url + "&per_page=25")
    assert first.status_code == 200, first.json
    body = first.json
    ordered, found = _reference(client.application, services, geo, body, place, theme, status, q,
                                radius)  # fmt: skip
    assert body["services"]["total_items"] == len(ordered) == body["counts"]["services"]
    for relation in RANK:
        expected = sum(1 for sid in ordered if any(r == relation for r, _ in found[sid]))
        assert body["counts"][relation] == expected, (url, relation)
    pages = max(1, math.ceil(len(ordered) / per_page))
    nearby = sum(1 for sid in ordered if found[sid][0][0] == "site_nearby")
    # and pages 12 and 100 where there are as many: past the first 256 and 2,560 services
    # of the areas' order, which is kept in steps of 256 up to 4,096 (the last page: beyond)
    asked = sorted({1, 2, pages, pages + 1, nearby // per_page + 1, (nearby // per_page) + 2,
                    *(page for page in (12, 100) if page < pages)})  # fmt: skip
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
    """The generated services (10,000, or DIRECTORY_TEST_PATCH_SERVICES), imported once per
    backend for the module: its tests only read them."""
    tmp = tmp_path_factory.mktemp("patch-scale")
    app = create_app(geography_copy(request, request.param, tmp))
    _import(app, tmp, shared_data_dir, SERVICES, seed=14)
    yield app
    app.extensions["directory"].db.dispose()


def test_every_page_of_the_patch_agrees_with_the_slow_way(generated_app, shared_data_dir):
    client = generated_app.test_client()
    _index(generated_app)
    services = _from_database(generated_app)
    assert len(services) == SERVICES
    geo = _geography(generated_app)
    sizes = []
    for pc in _postcodes(shared_data_dir, 25, seed=3):
        sizes.append(_check(client, services, geo, ("postcode", pc)))
    pc = ("postcode", _postcodes(shared_data_dir, 1, seed=4)[0])
    knives = "violence-knife-crime"
    _check(client, services, geo, pc, f"&theme={knives}", theme=knives)
    _check(client, services, geo, pc, "&status=any", status=None)
    _check(client, services, geo, pc, "&q=youth", q="youth")
    _check(client, services, geo, pc, "&radius=5000", radius=5000)
    for code in ("E09000022", "bcu-central-south", LONDON, "E05013938"):
        sizes.append(_check(client, services, geo, ("area", code)))
        _check(client, services, geo, ("area", code), f"&theme={knives}", theme=knives)
    assert min(sizes) > 25  # every patch has pages beyond the first to compare


def test_why_gives_each_services_place_in_the_patch_deep_in_it(generated_app, shared_data_dir):
    """/patch/why's position and relations at 10,000 services, counted from the lists: on
    the first page, around where the nearby services end (more than the few held as
    Python objects), past the 256 and 2,560 services of the kept areas' order, and last."""
    client = generated_app.test_client()
    postcode = _postcodes(shared_data_dir, 1, seed=4)[0].replace(" ", "+")
    per_page, many_nearby = 25, False
    for query in (
        f"postcode={postcode}&radius=5000",
        f"postcode={postcode}&radius=5000&theme=violence-knife-crime",
        f"area={LONDON}",
        "area=E09000022",
    ):
        first = client.get(f"/api/v1/patch?{query}&per_page={per_page}").json
        pages = first["services"]["total_pages"]
        nearby = first["counts"]["site_nearby"]
        many_nearby = many_nearby or nearby > 48
        ends = nearby // per_page
        for page in sorted({1, ends + 1, ends + 2, 12, 100, pages} & set(range(1, pages + 1))):
            url = f"/api/v1/patch?{query}&per_page={per_page}&page={page}"
            contents = client.get(url).json["services"]["contents"]
            for number in range(0, len(contents), 4):
                service = contents[number]
                why = f"/api/v1/patch/why?{query}&service={service['id']}&per_page={per_page}"
                body = client.get(why).json
                assert body["in_patch"] is True, (query, service["id"])
                assert body["position"] == (page - 1) * per_page + number + 1, (query, page)
                assert body["page"] == page and body["relations"] == service["relations"]
    assert many_nearby


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


@dataclass(frozen=True)
class _Award:
    """An award as the grant tables hold it, with the areas it names that reach the patch."""

    id: int
    start: Any
    end: Any
    pence: int
    community_safety: bool
    programme: str | None
    areas: frozenset[str]

    def live(self, first: Any, last: Any) -> bool:
        """Runs on some day from ``first`` to ``last`` (the README's rule: it has a start or
        an end, started by ``last`` and did not end before ``first``)."""
        if self.start is None and self.end is None:
            return False
        return (self.start is None or self.start <= last) and (
            self.end is None or self.end >= first
        )

    def scope(self, areas: dict[str, list[str]]) -> str:
        """Where it reaches the patch: the first of the patch's relations (ward, part,
        borough, BCU, London, in the documented order) naming one of its areas."""
        return next(
            relation.removeprefix("serves_")
            for relation, codes in areas.items()
            if self.areas.intersection(codes)
        )


def _awards_reaching(app: Any, codes: list[str]) -> list[_Award]:
    """Every award naming any of ``codes`` as a beneficiary area, once, read with plain SQL;
    community safety by its programme's flag, or with no programme when one of
    community_safety.toml's funders (MOPAC) funds it."""
    query = (
        text(
            'SELECT g.id, g.start, g."end", g.amount_pence, g.programme_id, p.community_safety, '
            "o.ref, a.area_code "
            'FROM "grant" g JOIN grant_area a ON a.grant_id = g.id '
            "LEFT JOIN programme p ON p.id = g.programme_id "
            "JOIN organisation o ON o.id = g.funder_id "
            "WHERE g.withdrawn_at IS NULL AND a.area_code IN :codes"
        )
        .bindparams(bindparam("codes", expanding=True))
        .columns(**{"id": Integer, "start": Date, "end": Date})
    )
    with app.extensions["directory"].db.engine.connect() as c:
        rows = c.execute(query, {"codes": codes}).all()
    funders = community_safety_rule().funders  # community_safety.toml's: MOPAC
    named: dict[int, set[str]] = {}
    award: dict[int, tuple[Any, ...]] = {}
    for gid, start, end, pence, programme, flag, ref, code in rows:
        named.setdefault(gid, set()).add(code)
        safety = bool(flag) if flag is not None else org_id_key(ref) in funders
        award[gid] = (start, end, pence or 0, safety, programme)
    return [_Award(gid, *award[gid], frozenset(named[gid])) for gid in award]


def _pounds(awards: list[_Award]) -> tuple[int, float]:
    return len(awards), round(sum(award.pence for award in awards) / 100, 2)


def _year_before(day: Any) -> Any:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _check_money(client: Any, url: str, areas: dict[str, list[str]], reaching: list[_Award],
                 day: Any) -> dict[bool, int]:  # fmt: skip
    """A patch's funding summary and awards on ``day`` (with and without
    ``include_other_programmes``) against ``reaching``, the awards naming its areas:
    totals, other programmes, sums by programme and scope, and the awards listed, in
    order, each at its scope. Returns how many live awards were compared, by kind."""
    compared = {True: 0, False: 0}
    for everything in (False, True):
        answer = client.get(
            f"{url}&per_page=1&live_on={day.isoformat()}"
            + ("&include_other_programmes=true" if everything else "")
        )
        assert answer.status_code == 200, answer.json
        funding, awards = answer.json["funding"], answer.json["awards"]
        live = [a for a in reaching if a.live(day, day)]
        counted = [a for a in live if everything or a.community_safety]
        assert (funding["awards"], funding["amount"]) == _pounds(counted), (url, day)
        if not everything:
            other = funding["programmes"]["other_programmes"]
            others = [a for a in live if not a.community_safety]
            assert (other["awards"], other["amount"]) == _pounds(others), (url, day)
            compared[True] += len(counted)
            compared[False] += len(others)
        cells: dict[tuple[str | None, str], list[_Award]] = {}
        for a in counted:
            cells.setdefault((a.programme, a.scope(areas)), []).append(a)
        shown = {
            ((row["programme"] or {}).get("id"), scope): (cell["awards"], cell["amount"])
            for row in funding["by_programme"]
            for scope, cell in row["by_scope"].items()
        }
        assert shown == {key: _pounds(found) for key, found in cells.items()}, (url, day)
        since = _year_before(day)
        listed = sorted(
            (a for a in reaching
             if (everything or a.community_safety)
             and (a.live(since, day) or (a.start is None and a.end is None))),
            key=lambda a: (a.start is None, -(a.start or day).toordinal(),
                           -(a.end or day).toordinal(), -a.id),
        )  # fmt: skip
        assert awards["total"] == len(listed), (url, day, everything)
        assert [(a["id"], a["scope"]) for a in awards["contents"]] == [
            (a.id, a.scope(areas)) for a in listed[:50]
        ], (url, day, everything)
    return compared


#: the days the money is checked on: before, amid and after most generated awards
def _money_days() -> list[Any]:
    from datetime import date

    return [date(2023, 6, 1), date(2025, 4, 1), date.today()]


def _no_regrants(app: Any) -> None:
    """The generated directory has no regrants (the funding figures and awards leave out
    those paid through an award the directory holds; the SQL here does not)."""
    with app.extensions["directory"].db.engine.connect() as c:
        regrants = c.execute(text('SELECT count(*) FROM "grant" WHERE parent_ref IS NOT NULL'))
        assert regrants.scalar_one() == 0


def test_the_money_reaching_a_postcode_is_what_the_tables_say(generated_app, shared_data_dir):
    """A postcode's funding summary and awards against the grant tables read with plain
    SQL, on three days: the awards naming its ward, borough, BCU or London, each once,
    at the first of those it names (its scope). Funding: the live ones, in full; by
    default the community-safety ones, the others as ``other_programmes``, and with
    ``include_other_programmes`` all; summed by programme and scope too. Awards: those
    live on the day or in the 12 months before it, and those without dates, newest first
    (by start, those without one last, then end, an open end as the day, then id), the
    first 50 listed with their scopes."""
    client = generated_app.test_client()
    geo = _geography(generated_app)
    _no_regrants(generated_app)
    compared = {True: 0, False: 0}
    for postcode in _postcodes(shared_data_dir, 20, seed=6):
        ward = _postcode_row(generated_app, postcode)[0]
        areas = _patch_areas(geo.above(ward), [])
        reaching = _awards_reaching(generated_app, [c for codes in areas.values() for c in codes])
        for day in _money_days():
            url = f"/api/v1/patch?postcode={postcode.replace(' ', '+')}"
            for kind, count in _check_money(client, url, areas, reaching, day).items():
                compared[kind] += count
    # the postcodes' areas held live awards of both kinds to compare
    assert compared[True] > 1_000 and compared[False] > 0, compared


def test_the_money_reaching_an_area_is_what_the_tables_say(generated_app):
    """The same for the patch of an area of every level (London, a BCU, two boroughs, the
    City, which has no BCU, and a ward): reached by the awards naming it, the areas inside
    it (scope ``part``: an award naming Kingston and one of its wards reaches Kingston's
    patch there) and those above it."""
    client = generated_app.test_client()
    geo = _geography(generated_app)
    _no_regrants(generated_app)
    scopes: set[str] = set()
    kingston = "E09000021"
    for code in (LONDON, "bcu-central-south", "E09000022", kingston, "E09000001", "E05013938"):
        areas = _patch_areas(geo.above(code), sorted(geo.inside(code)))
        reaching = _awards_reaching(generated_app, [c for codes in areas.values() for c in codes])
        assert reaching, code
        scopes.update(a.scope(areas) for a in reaching)
        for day in _money_days():
            compared = _check_money(client, f"/api/v1/patch?area={code}", areas, reaching, day)
            assert compared[True] > 0, (code, day)
    # awards reached the areas at every scope, parts included
    assert scopes == {"ward", "part", "borough", "bcu", "london"}, scopes


# -- big spatial pages (directory/usecases/boxes.py) -------------------------------------------
LONDON_BBOX = "-0.52,51.28,0.34,51.70"
KINGSTON_BBOX = "-0.33,51.38,-0.25,51.43"  # about 30 km²: big enough to build the arrays
SMALL_BBOXES = ("-0.13,51.50,-0.115,51.51", "-0.31,51.405,-0.295,51.415")  # about 1 km


def _slow_way(app: Any, box: tuple[float, ...]) -> tuple[list[int], list[int]]:
    """The listed services with a site inside ``box`` in name order, and those sites by id,
    worked out in Python from every row."""
    from sqlalchemy import select

    from directory.store.models import Location, Service

    min_lon, min_lat, max_lon, max_lat = box
    with app.extensions["directory"].db.engine.connect() as connection:
        services = connection.execute(
            select(Service.id, Service.withdrawn_at).order_by(Service.name, Service.id)
        ).all()
        sites = connection.execute(
            select(Location.id, Location.service_id, Location.lon, Location.lat)
        ).all()
    listed = {s.id for s in services if s.withdrawn_at is None}
    inside = sorted(
        s.id for s in sites
        if s.lon is not None and s.lat is not None and s.service_id in listed
        and min_lon <= s.lon <= max_lon and min_lat <= s.lat <= max_lat
    )  # fmt: skip
    with_site = {s.service_id for s in sites if s.id in set(inside)}
    return [s.id for s in services if s.id in with_site], inside


def _all_pages(client: Any, url: str, key: str, size: int) -> list[int]:
    found: list[int] = []
    for page in range(1, 100):
        if key == "contents":
            body = client.get(f"{url}&per_page={size}&page={page}").json
        else:
            body = client.get(f"{url}&limit={size}&offset={(page - 1) * size}").json
        items = body[key]
        found += [item["id"] for item in items]
        if len(items) < size:
            return found
    raise AssertionError("too many pages")


def test_big_and_small_bbox_pages_agree_with_sql_and_the_slow_way(generated_app):
    """Pages of /services?bbox (JSON, and GeoJSON's sites inside) and of the OGC sites and
    services collections, chosen in memory, equal SQL's answers (items, order, totals,
    numberMatched) and the slow way's, for big and small boxes, several pages and offsets,
    sorts and filters."""
    app, client = generated_app, generated_app.test_client()
    app.extensions["directory"].boxes._index = None
    services, ogc = "/api/v1/services?", "/api/v1/ogc/collections/"
    # a small box before any big one: SQL answers (no arrays built for it)
    for box in SMALL_BBOXES:
        fast_and_sql(app, f"{services}bbox={box}&per_page=10", fast=False)
        fast_and_sql(app, f"{ogc}sites/items?bbox={box}&limit=10", fast=False)
    assert app.extensions["directory"].boxes._index is None
    first = fast_and_sql(app, f"{services}bbox={LONDON_BBOX}&per_page=100", fast=True)
    assert app.extensions["directory"].boxes._index is not None
    total = first["total_items"]
    assert total > 1500
    organisation = first["contents"][0]["organisation"]["ref"]
    last = -(-total // 100)
    for query in (
        *(f"bbox={LONDON_BBOX}&per_page=100&page={page}" for page in (2, last, last + 1)),
        f"bbox={LONDON_BBOX}&per_page=7&page=3",
        f"bbox={LONDON_BBOX}&sort=name&per_page=50&page=4",
        f"bbox={LONDON_BBOX}&sort=updated&per_page=100",
        f"bbox={LONDON_BBOX}&sort=updated&per_page=100&page=5",
        f"bbox={LONDON_BBOX}&theme=violence-knife-crime&per_page=20&page=2",
        f"bbox={LONDON_BBOX}&theme=violence-knife-crime&theme=youth-diversion",
        f"bbox={LONDON_BBOX}&status=active&per_page=30",
        f"bbox={LONDON_BBOX}&status=inactive",
        f"bbox={LONDON_BBOX}&include_withdrawn=true&per_page=30&page=9",
        f"bbox={LONDON_BBOX}&organisation={organisation}",
        f"bbox={LONDON_BBOX}&format=geojson&per_page=100&page=3",
        f"bbox={LONDON_BBOX}&format=csv&per_page=100&page=2",
        f"bbox={KINGSTON_BBOX}&per_page=10&page=2",
        f"bbox={KINGSTON_BBOX}&sort=updated&format=geojson",
        *(f"bbox={box}&per_page=10" for box in SMALL_BBOXES),
    ):
        fast_and_sql(app, services + query, fast=True)
    for query in (  # what the arrays do not hold: SQL, the same answers
        f"bbox={LONDON_BBOX}&q=youth&per_page=20",
        f"bbox={LONDON_BBOX}&sort=funding_end&per_page=20",
        f"bbox={LONDON_BBOX}&programme=vru&per_page=20",
        f"bbox={LONDON_BBOX}&area=E09000022",
    ):
        fast_and_sql(app, services + query, fast=False)
    sites = fast_and_sql(app, f"{ogc}sites/items?bbox={LONDON_BBOX}&limit=100", fast=True)
    assert sites["numberMatched"] > 1500
    for query in (
        f"sites/items?bbox={LONDON_BBOX}&limit=100&offset=100",
        f"sites/items?bbox={LONDON_BBOX}&limit=100&offset={sites['numberMatched'] - 30}",
        f"sites/items?bbox={LONDON_BBOX}&limit=10&offset=99999",
        f"sites/items?bbox={LONDON_BBOX}",
        f"sites/items?bbox={LONDON_BBOX}&theme=violence-knife-crime&limit=25&offset=25",
        f"sites/items?bbox={LONDON_BBOX}&organisation={organisation}",
        f"sites/items?bbox={KINGSTON_BBOX}&limit=20&offset=20",
        "sites/items?limit=50&offset=1000",
        *(f"sites/items?bbox={box}&limit=10" for box in SMALL_BBOXES),
        f"services/items?bbox={LONDON_BBOX}&limit=100",
        f"services/items?bbox={LONDON_BBOX}&limit=100&offset=2950",
        f"services/items?bbox={LONDON_BBOX}&theme=violence-knife-crime&limit=20&offset=40",
        f"services/items?bbox={KINGSTON_BBOX}&limit=50&offset=50",
        f"services/items?bbox={SMALL_BBOXES[0]}&limit=50&offset=100",
        f"services/items?organisation={organisation}",
        "services/items?limit=100&offset=1500",
    ):
        fast_and_sql(app, ogc + query, fast=True)
    fast_and_sql(app, f"{ogc}services/items?bbox={LONDON_BBOX}&datetime=2025-04-01/..", fast=False)
    # the slow way: every row tested in Python
    for box in (LONDON_BBOX, KINGSTON_BBOX, SMALL_BBOXES[1]):
        expected_services, expected_sites = _slow_way(app, tuple(map(float, box.split(","))))
        assert expected_sites, box
        assert _all_pages(client, f"{services}bbox={box}", "contents", 1000) == expected_services
        assert (
            _all_pages(client, f"{ogc}sites/items?bbox={box}", "features", 1000) == expected_sites
        )
        # as GeoJSON, the sites inside of those services, every page's numberMatched
        sent: list[int] = []
        for page in range(1, 100):
            body = client.get(f"{services}bbox={box}&format=geojson&per_page=1000&page={page}")
            assert body.json["numberMatched"] == len(expected_sites), box
            sent += [int(f["id"].split("-")[1]) for f in body.json["features"]]
            if page * 1000 >= len(expected_services):
                break
        assert sorted(sent) == expected_sites, box
