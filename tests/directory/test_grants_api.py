"""GET /grants filters on the demo directory (MOPAC decisions and ward-level 360Giving grants)
plus a few grants dated around today, on SQLite and PostgreSQL. Expected answers are computed
from the database and the loaded geography, not written down."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from directory.app import create_app
from directory.cli import cli
from directory.store.models import Grant, GrantArea, Organisation
from directory.store.words import loose_key
from directory.usecases.opportunities import LONDON_TZ
from tests.conftest import demo_copy

LAMBETH = "E09000022"
EDGE_HEADER = (
    "Service ref,Service name,Status,Themes,Organisation name,Coverage,Last verified,"
    "Grant ref,Funder,Programme,Amount,Start date,End date\n"
)


def _today() -> date:
    return datetime.now(LONDON_TZ).date()  # (the API's today: London's)


def _edge_rows(today: date, ward: str, bcu: str) -> str:
    """Grants on each side of every status boundary of grant_flags (ending_soon_days = 90),
    in Lambeth; and one to a single Lambeth ward and one to Lambeth's whole BCU."""
    d = lambda days: (today + timedelta(days=days)).isoformat()  # noqa: E731
    dated = {
        "PLANNED": (d(1), d(400), "Lambeth"),
        "STARTS-TODAY": (d(0), "", "Lambeth"),
        "ENDED-YESTERDAY": (d(-400), d(-1), "Lambeth"),
        "ENDS-TODAY": (d(-400), d(0), "Lambeth"),
        "ENDS-IN-90": ("", d(90), "Lambeth"),
        "ENDS-IN-91": ("", d(91), "Lambeth"),
        "NO-DATES": ("", "", "Lambeth"),
        "WARD": (d(-30), d(300), ward),
        "BCU": (d(-30), d(300), bcu),
    }
    return EDGE_HEADER + "".join(
        f"EDGE-{name},Edge {name.lower()} service,active,Community safety,Edge 100% charity,"
        f"{area},2026-10-01,EDGE-{name}-G,MOPAC,VRU,£1k,{start},{end}\n"
        for name, (start, end, area) in dated.items()
    )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """The demo directory (and the edge grants) loaded once per backend for this module."""
    tmp = tmp_path_factory.mktemp("grants")
    app = create_app(demo_copy(request, request.param, tmp))
    runner = app.test_cli_runner()
    edges = tmp / "edges.csv"
    snap = _snapshot(app)
    ward = min(c for c in snap.children[LAMBETH] if snap.areas[c].type == "ward")
    edges.write_text(_edge_rows(_today(), ward, snap.areas[LAMBETH].parent_code), "utf-8")
    result = runner.invoke(cli, ["import", str(edges), "--source", "edges"])
    assert result.exit_code == 0, result.output[-2000:]
    yield app
    app.extensions["directory"].db.dispose()


def _snapshot(app: Flask) -> Any:
    from directory.web.state import geography_repo, state

    with app.app_context():
        return state().geography.get(geography_repo())


@pytest.fixture()
def client(demo_app: Flask) -> Any:
    return demo_app.test_client()


def _db(app: Flask, statement: Any) -> list[Any]:
    with app.extensions["directory"].db.engine.connect() as connection:
        return list(connection.execute(statement))


def _all(client: Any, query: str) -> tuple[list[dict[str, Any]], int]:
    """Every grant a query lists, page by page, and the total_items it reported."""
    items: list[dict[str, Any]] = []
    for page in itertools.count(1):
        response = client.get(f"/api/v1/grants?{query}&per_page=100&page={page}")
        assert response.status_code == 200, response.json
        body = response.json
        items += body["contents"]
        if page >= body["total_pages"]:
            return items, body["total_items"]


def _listed(app: Flask, *where: Any) -> set[str]:
    """Refs of the listed (not withdrawn) grants matching ``where``, by a direct query."""
    rows = _db(app, select(Grant.ref).where(Grant.withdrawn_at.is_(None), *where))
    return {r.ref for r in rows}


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {g["ref"] for g in items}


def test_funder_and_recipient_by_ref_or_id(client, demo_app):
    mopac = _db(demo_app, select(Organisation).where(Organisation.ref == "GB-GOR-PC390"))[0]
    expected = _listed(demo_app, Grant.funder_id == mopac.id)
    assert len(expected) > 1
    for key in (mopac.ref, str(mopac.id)):
        items, total = _all(client, f"funder={key}")
        assert total == len(items) == len(expected)
        assert _ids(items) == expected
        assert {g["funder"]["ref"] for g in items} == {mopac.ref}
    # a recipient of several grants, from the 360Giving data
    recipient_id, _ = max(
        _db(demo_app, select(Grant.recipient_id, Grant.id).where(Grant.withdrawn_at.is_(None))),
        key=lambda r: len(_listed(demo_app, Grant.recipient_id == r.recipient_id)),
    )
    recipient = _db(demo_app, select(Organisation).where(Organisation.id == recipient_id))[0]
    expected = _listed(demo_app, Grant.recipient_id == recipient_id)
    items, total = _all(client, f"recipient={recipient.ref}")
    assert total == len(expected) and _ids(items) == expected
    assert {g["recipient"]["ref"] for g in items} == {recipient.ref}
    # funder and recipient together narrow (AND)
    items, _ = _all(client, f"recipient={recipient.ref}&funder={mopac.ref}")
    assert _ids(items) == _listed(
        demo_app, Grant.recipient_id == recipient_id, Grant.funder_id == mopac.id
    )


@pytest.mark.parametrize("name", ["funder", "recipient", "organisation"])
def test_unknown_organisation_is_the_same_problem_as_elsewhere(client, name):
    response = client.get(f"/api/v1/grants?{name}=GB-CHC-0000000")
    services = client.get("/api/v1/services?organisation=GB-CHC-0000000")
    assert response.status_code == services.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == services.json["code"] == "organisation-not-found"


def test_unknown_programme_is_a_problem_and_known_ones_filter(client, demo_app):
    response = client.get("/api/v1/grants?programme=no-such-programme")
    assert response.status_code == 404
    assert response.json["code"] == "programme-not-found"
    items, total = _all(client, "programme=vru")
    assert total == len(items) > 0
    assert _ids(items) == _listed(demo_app, Grant.programme_id == "vru")
    # a programme of programmes.csv with or without grants is not an error
    assert client.get("/api/v1/grants?programme=surge").status_code == 200


def test_text_search_over_title_ref_names_and_programme(client, demo_app):
    every, _ = _all(client, "include_withdrawn=false")

    def matches(g: dict[str, Any], word: str) -> bool:
        """The title, the parties' and the programme's names by their loose words, a word's
        start; the ref as written (``directory.store.words.name_words``)."""
        names = [g["title"], g["funder"]["name"], g["recipient"]["name"]]
        names.append(g["programme"]["name"] if g["programme"] else None)
        written = [g["ref"]]
        loose = " " + loose_key(word)
        return any(loose in " " + loose_key(t or "") for t in names) or any(
            word in (t or "").lower() for t in written
        )

    for q in ("lloyds", "SAFER streets", "edge", "100%", "violence reduction"):
        words = q.lower().split()
        expected = {g["ref"] for g in every if all(matches(g, w) for w in words)}
        items, total = _all(client, f"q={q}")
        assert total == len(expected) and _ids(items) == expected, q
    # the recipient's name alone: MOPAC's edge grants all go to "Edge 100% charity"
    assert _ids(_all(client, "q=edge 100%25 charity")[0]) == {
        g["ref"] for g in every if g["ref"].startswith("EDGE-")
    }
    # LIKE wildcards are literal: no ref has "_x%" in it (and a name's loose words have no
    # punctuation: "_x%" looks there for a word starting "x")
    assert _ids(_all(client, "q=_x%25")[0]) == {g["ref"] for g in every if matches(g, "_x%")}
    assert _all(client, "q=_%25")[1] == 0
    assert client.get("/api/v1/grants?q=%20%20").status_code == 422


def test_a_minus_word_leaves_out_what_has_it(client, demo_app):
    """``-word`` in grants' and organisations' q leaves out what has the word, as a
    service's q reads it (it found the very grants and organisations it named before): by
    the same rule as a word looked for, so a word and its exclusion part every row."""
    every, total = _all(client, "include_withdrawn=false")
    for q in ("knife", "lloyds", "edge"):
        found = _ids(_all(client, f"q={q}")[0])
        left = _ids(_all(client, f"q=-{q}")[0])
        assert found and left and found | left == {g["ref"] for g in every}, q
        assert not found & left, q
    both = _ids(_all(client, "q=safer -streets")[0])
    assert both == _ids(_all(client, "q=safer")[0]) - _ids(_all(client, "q=streets")[0])
    assert _all(client, "q=knife -knife")[1] == 0

    def organisations(query: str) -> set[str]:
        refs: set[str] = set()
        for page in itertools.count(1):
            body = client.get(f"/api/v1/organisations?{query}&per_page=100&page={page}").json
            refs |= {o["ref"] for o in body["contents"]}
            if body["last_page"]:
                assert len(refs) == body["total_items"], query
                return refs
        raise AssertionError  # (unreachable)

    youth, others = organisations("q=youth"), organisations("q=-youth")
    every_one = organisations("")
    assert youth and others and youth | others == every_one and not youth & others
    assert organisations("q=london -youth") == organisations("q=london") - youth


def test_name_searches_take_and_for_ampersand_and_a_phones_apostrophe(client, demo_app):
    """Grants' and organisations' q: "&" and "and" are left out as PostgreSQL's text search
    leaves them (before, "Barking & Dagenham" missed the council, and "Barking and
    Dagenham" the three organisations that write "&"), and a curly apostrophe is the
    straight one names are written with (the read probe of 5 December)."""
    every, _ = _all(client, "include_withdrawn=false")
    womens = {  # (by the loose words: "Women’s", "Women's" and "Womens" alike)
        g["ref"] for g in every
        if any(" womens" in " " + loose_key(t or "") for t in (g["title"], g["recipient"]["name"]))
    }  # fmt: skip
    assert womens and _ids(_all(client, "q=women%E2%80%99s")[0]) == womens
    assert _ids(_all(client, "q=women's")[0]) == womens
    names = []
    for page in itertools.count(1):
        body = client.get(f"/api/v1/organisations?per_page=100&page={page}").json
        names += [o["name"] for o in body["contents"]]
        if body["last_page"]:
            break
    expected = sorted(n for n in names if "barking" in n.lower() and "dagenham" in n.lower())
    assert any("&" in n for n in expected) and any(" and " in n for n in expected), expected
    for spelling in ("Barking%20%26%20Dagenham", "barking%20and%20dagenham"):
        found = client.get(f"/api/v1/organisations?q={spelling}&per_page=100").json
        assert sorted(o["name"] for o in found["contents"]) == expected, spelling
    assert client.get("/api/v1/organisations?q=%26").json["total_items"] == 0
    assert _all(client, "q=%26%20and")[1] == 0


def test_status_filter_agrees_with_each_grant_status(client, demo_app):
    every, total = _all(client, "include_withdrawn=false")
    by_status: dict[str, set[str]] = {}
    for g in every:
        by_status.setdefault(g["status"], set()).add(g["ref"])
    assert {"planned", "live", "ending soon", "ended", "unknown"} <= set(by_status)
    counted = 0
    for status in ("planned", "live", "ending soon", "ended", "unknown"):
        items, n = _all(client, f"status={status}")
        assert n == len(items) and _ids(items) == by_status[status], status
        assert {g["status"] for g in items} == {status}
        counted += n
    assert counted == total
    running, n = _all(client, "status=live&status=ending%20soon")  # repeated: any of them
    assert n == len(running) and _ids(running) == by_status["live"] | by_status["ending soon"]
    assert _all(client, "status=live&status=live")[1] == len(by_status["live"])
    package = client.get("/api/v1/grants.360giving.json?status=live&status=ending%20soon").json
    assert {g["id"] for g in package["grants"] + package["notPublished"]} == (
        by_status["live"] | by_status["ending soon"]
    )
    today = _today()
    ended, _ = _all(client, "status=ended")
    assert all(date.fromisoformat(g["end"]) < today for g in ended)
    assert _ids(ended) == _listed(
        demo_app, Grant.end < today, (Grant.start.is_(None)) | (Grant.start <= today)
    )
    edges = {
        g["ref"]: g["status"] for s in ("planned", "live", "ending soon", "ended", "unknown")
        for g in _all(client, f"status={s}&q=edge-")[0]
        if g["ref"].startswith("EDGE-")  # (not "The Outside Edge": "edge" starts a word of it)
    }  # fmt: skip
    assert edges == {
        "EDGE-PLANNED-G": "planned", "EDGE-STARTS-TODAY-G": "live",
        "EDGE-ENDED-YESTERDAY-G": "ended", "EDGE-ENDS-TODAY-G": "ending soon",
        "EDGE-ENDS-IN-90-G": "ending soon", "EDGE-ENDS-IN-91-G": "live",
        "EDGE-NO-DATES-G": "unknown", "EDGE-WARD-G": "live", "EDGE-BCU-G": "live",
    }  # fmt: skip
    response = client.get("/api/v1/grants?status=finished")
    assert response.status_code == 422
    assert "status" in str(response.json)


def _area_codes(app: Flask) -> dict[str, set[str]]:
    areas: dict[str, set[str]] = {}
    for r in _db(
        app,
        select(Grant.ref, GrantArea.area_code)
        .join(GrantArea, GrantArea.grant_id == Grant.id)
        .where(Grant.withdrawn_at.is_(None)),
    ):
        areas.setdefault(r.ref, set()).add(r.area_code)
    return areas


def _scope(snap: Any, code: str) -> tuple[set[str], set[str]]:
    """The areas inside ``code`` (with it) and the areas above it, from the snapshot."""
    inside, stack = {code}, list(snap.children.get(code, []))
    while stack:
        child = stack.pop()
        inside.add(child)
        stack.extend(snap.children.get(child, []))
    above, parent = set(), snap.areas[code].parent_code
    while parent is not None:
        above.add(parent)
        parent = snap.areas[parent].parent_code
    return inside, above


def _within(snap: Any, area: str, areas: dict[str, set[str]]) -> set[str]:
    """The grants the area filter must give: beneficiary areas meeting the area, the areas
    inside it or the areas above it."""
    inside, above = _scope(snap, area)
    return {r for r, codes in areas.items() if codes & (inside | above)}


def test_area_by_code_or_name_takes_the_areas_inside_and_above(client, demo_app):
    snap = _snapshot(demo_app)
    areas = _area_codes(demo_app)
    ward = next(iter(areas["EDGE-WARD-G"]))
    bcu = next(iter(areas["EDGE-BCU-G"]))
    assert snap.areas[ward].type == "ward" and snap.areas[ward].parent_code == LAMBETH
    assert snap.areas[bcu].type == "bcu" and snap.areas[LAMBETH].parent_code == bcu
    expected = _within(snap, LAMBETH, areas)
    assert {"EDGE-WARD-G", "EDGE-BCU-G", "EDGE-PLANNED-G"} <= expected
    assert any("E12000007" in areas[r] for r in expected), "London-wide grants reach Lambeth"
    for key in (LAMBETH, LAMBETH.lower(), "Lambeth", "LAMBETH"):
        items, total = _all(client, f"area={key}")
        assert total == len(items) == len(expected), key
        assert _ids(items) == expected, key
    # the ward grant by its own ward, its BCU (by id or name) and London; the BCU-wide grant
    # by the ward below it; neither by a borough outside the BCU
    assert {"EDGE-WARD-G", "EDGE-BCU-G"} <= _ids(_all(client, f"area={ward}")[0])
    assert _ids(_all(client, f"area={ward}")[0]) == _within(snap, ward, areas)
    for key in (bcu, snap.areas[bcu].name, "E12000007", "London"):
        assert "EDGE-WARD-G" in _ids(_all(client, f"area={key}")[0]), key
    outside = next(
        c for c, a in snap.areas.items()
        if a.type == "borough" and a.parent_code != bcu and c != "E09000001"
    )  # fmt: skip
    assert not {"EDGE-WARD-G", "EDGE-BCU-G"} & _ids(_all(client, f"area={outside}")[0])
    # the demo's 360Giving ward-level grants, by their boroughs' names and codes
    for borough in {snap.areas[c].parent_code for cs in areas.values() for c in cs
                    if c in snap.areas and snap.areas[c].type == "ward"}:  # fmt: skip
        expected = _within(snap, borough, areas)
        assert _ids(_all(client, f"area={borough}")[0]) == expected
        assert _ids(_all(client, f"area={snap.areas[borough].name}")[0]) == expected
    # Croydon by name is Croydon by code (names used to find nothing)
    croydon = _ids(_all(client, "area=Croydon")[0])
    assert croydon == _ids(_all(client, "area=E09000008")[0])
    assert croydon == _within(snap, "E09000008", areas) != set()


def test_unknown_area_is_area_not_found_with_suggestions(client):
    for key in ("E09000099", "Nowhereville"):
        response = client.get(f"/api/v1/grants?area={key}")
        services = client.get(f"/api/v1/services?area={key}")
        assert response.status_code == services.status_code == 404
        assert response.json["code"] == services.json["code"] == "area-not-found"
        assert response.json["suggestions"] == services.json["suggestions"]


@pytest.mark.parametrize(
    ("path", "code", "suggested"),
    [
        # a mistyped area name: the areas spelled closest (names used to give no suggestion)
        ("/api/v1/grants?area=Croydn", "area-not-found", ("code", "E09000008")),
        ("/api/v1/services?area=Lambth", "area-not-found", ("code", "E09000022")),
        ("/api/v1/patch?area=Lambth", "area-not-found", ("code", "E09000022")),
        (
            "/api/v1/funding/summary?by=programme&area=Lambth",
            "area-not-found",
            ("code", "E09000022"),
        ),
        # an organisation by a name organisations.csv knows, or a mistyped ref
        ("/api/v1/grants?funder=MOPAC", "organisation-not-found", ("ref", "GB-GOR-PC390")),
        (
            "/api/v1/services?organisation=org:oxygn",
            "organisation-not-found",
            ("ref", "org:oxygen"),
        ),
        ("/api/v1/partners?organisation=Oxygen", "organisation-not-found", ("ref", "org:oxygen")),
        ("/api/v1/organisations/org:oxygn", "organisation-not-found", ("ref", "org:oxygen")),
        # a programme by part of its id
        ("/api/v1/grants?programme=lcpf", "programme-not-found", ("id", "lcpf-direct")),
        ("/api/v1/services?programme=lcpf", "programme-not-found", ("id", "lcpf-direct")),
        ("/api/v1/programmes/lcpf", "programme-not-found", ("id", "lcpf-direct")),
        (
            "/api/v1/patch?postcode=SW2 1RW&programme=lcpf",
            "programme-not-found",
            ("id", "lcpf-direct"),
        ),
    ],
)
def test_an_unknown_area_organisation_or_programme_suggests_what_was_meant(
    client, path, code, suggested
):
    response = client.get(path)
    assert response.status_code == 404, response.json
    assert response.json["code"] == code
    key, value = suggested
    assert value in [s[key] for s in response.json["suggestions"]], response.json
    assert len(response.json["suggestions"]) <= 5
    assert all(s.get("name") for s in response.json["suggestions"])


def test_nothing_like_it_suggests_nothing(client):
    for path in ("/api/v1/grants?funder=zzzz", "/api/v1/grants?area=xqzv"):
        response = client.get(path)
        assert response.status_code == 404 and response.json["suggestions"] == []


def test_filters_combine_and_paging_stays_consistent(client, demo_app):
    query = "funder=GB-GOR-PC390&area=Lambeth&status=ending soon&programme=vru"
    items, total = _all(client, query)
    assert {g["funder"]["ref"] for g in items} == {"GB-GOR-PC390"}
    assert {g["status"] for g in items} == {"ending soon"}
    assert total == len(items) == len(_ids(items)) >= 2  # EDGE-ENDS-TODAY and -IN-90
    first = client.get(f"/api/v1/grants?{query}&per_page=1&page=1").json
    second = client.get(f"/api/v1/grants?{query}&per_page=1&page=2").json
    assert first["total_items"] == second["total_items"] == total
    assert first["contents"][0]["ref"] != second["contents"][0]["ref"]


def test_grants_come_as_csv_one_row_per_grant_of_the_json_page(client):
    """format=csv (or Accept: text/csv) gives the JSON page's grants, one row each, with the
    page's Link and X-Total-Count; amounts in pounds, areas as codes."""
    import csv
    import io

    query = "area=Lambeth&per_page=7&page=2"
    page = client.get(f"/api/v1/grants?{query}").json
    for response in (
        client.get(f"/api/v1/grants?{query}&format=csv"),
        client.get(f"/api/v1/grants?{query}", headers={"Accept": "text/csv"}),
    ):
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.headers["X-Total-Count"] == str(page["total_items"])
        assert 'rel="prev"' in response.headers["Link"] and "format=csv" in response.headers["Link"]
        rows = list(csv.DictReader(io.StringIO(response.data.decode())))
        assert [r["ref"] for r in rows] == [g["ref"] for g in page["contents"]]
        for row, grant in zip(rows, page["contents"], strict=True):
            assert row["funder"] == grant["funder"]["name"] and row["status"] == grant["status"]
            assert row["amount"] == ("" if grant["amount"] is None else str(grant["amount"]))
            assert row["beneficiary_areas"] == "; ".join(
                a["code"] for a in grant["beneficiary_areas"]
            )
            assert row["url"].endswith(f"/api/v1/grants/{grant['id']}")
    assert client.get("/api/v1/grants?format=xml").status_code == 422


def test_a_grant_ending_before_it_starts_has_unknown_dates_and_is_never_live(client):
    """360G-ptc-gr-02264 is published as 2017-12-21 to 2000-12-31 (a placeholder end): its
    dates are left out, so it is not live for ever, in the list or in the patch's funding."""
    (grant,) = client.get("/api/v1/grants?q=360G-ptc-gr-02264").json["contents"]
    assert (grant["start"], grant["end"], grant["status"]) == (None, None, "unknown")
    live, _ = _all(client, "status=live&area=Hackney")
    assert grant["ref"] not in _ids(live)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/grants?programme={p}",
        "/api/v1/services?programme={p}",
        "/api/v1/funding/summary?by=borough&programme={p}",
        "/api/v1/patch?area=Lambeth&programme={p}",
        "/api/v1/ogc/collections/sites/items?programme={p}",
        "/api/v1/programmes/{p}",
        "/api/v1/programmes/{p}/fairness",
    ],
)
def test_a_programme_id_is_taken_in_any_case(client, path):
    """Programme ids are lower-case slugs: one typed in capitals names the same programme
    everywhere (as an area code does), not a 404 programme-not-found."""
    plain = client.get(path.format(p="lcpf-direct"))
    assert plain.status_code == 200
    for typed in ("LCPF-DIRECT", "Lcpf-Direct"):
        response = client.get(path.format(p=typed))
        assert response.status_code == 200, (typed, response.get_json())
        assert response.get_data() == plain.get_data()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_organisation_ref_is_taken_in_another_case_when_it_names_one(
    request: pytest.FixtureRequest, tmp_path, backend
):
    """``funder=gb-gor-pc390`` names MOPAC (GB-GOR-PC390), as everywhere an organisation is
    taken (a 404 before); a ref in another case that two organisations share (only their
    case differs) names neither, and the ref as written always wins."""
    app = create_app(demo_copy(request, backend, tmp_path))
    client = app.test_client()
    try:
        mopac = client.get("/api/v1/grants?funder=GB-GOR-PC390&per_page=1").json["total_items"]
        assert mopac > 0
        assert client.get("/api/v1/grants?funder=gb-gor-pc390").json["total_items"] == mopac
        assert client.get("/api/v1/organisations/Gb-Gor-Pc390").json["ref"] == "GB-GOR-PC390"
        state = app.extensions["directory"]
        with state.db.engine.begin() as connection:
            connection.execute(
                Organisation.__table__.insert().values(
                    ref="gb-gor-pc390",
                    name="A namesake in lower case",
                    source="test",
                    search_name=" a namesake in lower case",
                    created_at=datetime(2026, 1, 1),
                    updated_at=datetime(2026, 1, 1),
                )
            )
        assert client.get("/api/v1/grants?funder=Gb-Gor-Pc390").status_code == 404
        assert client.get("/api/v1/organisations/gb-gor-pc390").json["name"] == (
            "A namesake in lower case"
        )
        assert client.get("/api/v1/grants?funder=GB-GOR-PC390").json["total_items"] == mopac
    finally:
        app.extensions["directory"].db.dispose()
