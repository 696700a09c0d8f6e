"""Funding opportunities (bidding rounds), on SQLite and PostgreSQL: the list's filters each
against a computation of our own from the full list, statuses and their boundaries, the
iCalendar feed read back with icalendar (UIDs, Europe/London across a clock change), Atom,
CSV, GeoJSON, the patch's open opportunities, the template's "Opportunities" sheet, and the
officers' writes with every role, If-Match and bad input.

Reads share the session's demo directory (``shared_demo_app``); writes share one copy of it
per backend for the module (each test writes opportunities of its own refs)."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask import Flask

from directory import create_app
from directory.usecases import opportunities as uc
from directory.web import state as web_state
from tests.conftest import BACKENDS, demo_copy
from tests.directory.test_keys import make_key
from tests.directory.test_postcode_table import every_postcode_read
from tests.races import first_held

LONDON = ZoneInfo("Europe/London")
ATOM = "{http://www.w3.org/2005/Atom}"
ALL = "status=upcoming&status=open&status=closing_soon&status=closed"
DEMO_REFS = {
    "demo-vru-youth-violence-round": "open",
    "demo-lcpf-co-commissioning-round": "closing_soon",
    "demo-young-londoners-fund-round": "upcoming",
    "demo-kingston-snb-small-grants": "open",
    "demo-brixton-acre-lane-micro-grants": "open",
    "demo-vawg-prevention-round": "closed",
}


def get_json(app: Flask, url: str) -> Any:
    response = app.test_client().get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def everything(app: Flask) -> list[dict[str, Any]]:
    return get_json(app, f"/api/v1/opportunities?{ALL}&per_page=1000")["contents"]  # type: ignore[no-any-return]


def refs(items: list[dict[str, Any]]) -> list[str]:
    return [o["ref"] for o in items]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def london_days(now: datetime, then: datetime) -> int:
    """London calendar days from ``now`` to ``then`` (the days_left rule)."""
    return (then.astimezone(LONDON).date() - now.astimezone(LONDON).date()).days


# -- statuses ------------------------------------------------------------------------------
def test_status_boundaries() -> None:
    opens, closes = datetime(2026, 3, 1, 9), datetime(2026, 3, 29, 11)  # naive UTC
    at = lambda naive: naive.replace(tzinfo=UTC)  # noqa: E731
    second = timedelta(seconds=1)
    assert uc.status_of(opens, closes, at(opens - second), 14) == "upcoming"
    assert uc.status_of(opens, closes, at(opens), 14) == "open"
    # closing soon from the start of the London day 14 days before the deadline's (29 March:
    # 15 March, GMT), whatever the hour: as days_left counts
    soon = datetime(2026, 3, 15)
    assert uc.status_of(opens, closes, at(soon - second), 14) == "open"
    assert uc.time_left(opens, closes, "open", at(soon - second))[0] == 15
    assert uc.status_of(opens, closes, at(soon), 14) == "closing_soon"
    assert uc.time_left(opens, closes, "closing_soon", at(soon)) == (14, "closes in 14 days")
    assert uc.soon_starts(closes, 14) == soon
    assert uc.status_of(opens, closes, at(closes - second), 14) == "closing_soon"
    assert uc.status_of(opens, closes, at(closes), 14) == "closed"
    assert uc.status_of(None, closes, at(opens - timedelta(days=99)), 14) == "open"
    # in summer time: a deadline at 17:00 BST on 20 July is closing soon from midnight BST
    # on 6 July (23:00 UTC on 5 July)
    july = datetime(2026, 7, 20, 16)
    assert uc.soon_starts(july, 14) == datetime(2026, 7, 5, 23)
    assert uc.status_of(None, july, at(datetime(2026, 7, 5, 22, 59, 59)), 14) == "open"
    assert uc.status_of(None, july, at(datetime(2026, 7, 5, 23)), 14) == "closing_soon"
    assert uc.within_days_end(at(datetime(2026, 7, 5, 23)), 14) == datetime(2026, 7, 20, 23)
    # the days left are London calendar days: 29 March 2026 is the day the clocks go forward
    late = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 28 March, 23:30 GMT
    assert uc.time_left(opens, closes, "closing_soon", late) == (1, "closes tomorrow at 12:00")
    early = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 29 March, 00:30 GMT
    assert uc.time_left(opens, closes, "closing_soon", early) == (0, "closes today at 12:00")
    assert uc.time_left(opens, closes, "closed", at(closes)) == (None, "closed on 29 March 2026")
    assert uc.time_left(opens, closes, "upcoming", at(opens - timedelta(days=5))) == (
        5, "opens in 5 days",
    )  # fmt: skip


def test_london_day_across_the_clock_change() -> None:
    assert uc.london_day(date(2026, 3, 29)) == (datetime(2026, 3, 29), datetime(2026, 3, 29, 23))
    assert uc.london_day(date(2026, 10, 25)) == (
        datetime(2026, 10, 24, 23), datetime(2026, 10, 26, 0),
    )  # fmt: skip


# -- reads on the demo directory -----------------------------------------------------------
def test_demo_statuses_and_the_default_list(shared_demo_app: Flask) -> None:
    items = everything(shared_demo_app)
    assert {o["ref"]: o["status"] for o in items} == DEMO_REFS
    now = datetime.now(UTC)
    for o in items:
        opens = None if o["opens_at"] is None else moment(o["opens_at"])
        closes = moment(o["closes_at"])
        assert closes.utcoffset() == closes.astimezone(LONDON).utcoffset()  # London's offset
        expected = (
            "upcoming" if opens and opens > now else "closed" if closes <= now
            else "closing_soon" if london_days(now, closes) <= 14 else "open"
        )  # fmt: skip
        assert o["status"] == expected
        if o["status"] in ("open", "closing_soon"):  # the status as the days left say
            assert o["days_left"] == london_days(now, closes)
        assert (o["contact"] is not None) == (o["ref"] == "demo-lcpf-co-commissioning-round")
    body = get_json(shared_demo_app, "/api/v1/opportunities")
    assert refs(body["contents"]) == [o["ref"] for o in items if o["status"] != "closed"]
    deadlines = [moment(o["closes_at"]) for o in body["contents"]]
    assert deadlines == sorted(deadlines)
    assert body["status"] == ["upcoming", "open", "closing_soon"]
    assert body["closing_soon_days"] == 14
    assert refs(everything(shared_demo_app))[-1] == "demo-vawg-prevention-round"  # closed last


def _hierarchy(app: Flask, code: str) -> set[str]:
    """The area, the areas above it: from the areas API (independently of the filter)."""
    codes = {code}
    while True:
        parent = get_json(app, f"/api/v1/areas/{code}")["parent"]
        if parent is None:
            return codes
        code = parent["code"]
        codes.add(code)


@pytest.mark.parametrize(
    "query",
    ["postcode=SW2 1RW", "postcode=KT1 1EU", "area=Lambeth", "area=E09000021",
     "area=bcu-south-west", "area=E05014095", "area=E12000007"],
)  # fmt: skip
def test_place_filters(shared_demo_app: Flask, query: str) -> None:
    items = everything(shared_demo_app)
    name, value = query.split("=")
    if name == "postcode":
        answer = get_json(shared_demo_app, f"/api/v1/postcodes/{value}")
        place = answer["ward"]["code"]
    else:
        place = get_json(shared_demo_app, f"/api/v1/areas?q={value}")["contents"][0]["code"] \
            if not value.startswith(("E", "bcu")) else value  # fmt: skip
    above = _hierarchy(shared_demo_app, place)
    expected = [
        o["ref"] for o in items
        if any(a["code"] in above or place in _hierarchy(shared_demo_app, a["code"])
               for a in o["areas"])
    ]  # fmt: skip
    body = get_json(shared_demo_app, f"/api/v1/opportunities?{ALL}&{query}")
    assert refs(body["contents"]) == expected
    assert body["place"]["area"]["code"] == place
    assert expected  # London-wide ones match everywhere


def test_theme_small_org_closes_within_open_on(shared_demo_app: Flask) -> None:
    items = everything(shared_demo_app)
    get = lambda q: refs(get_json(shared_demo_app, f"/api/v1/opportunities?{ALL}&{q}")["contents"])  # noqa: E731
    themes = lambda o: {t["id"] for t in o["themes"]}  # noqa: E731
    assert get("theme=youth-diversion") == [
        o["ref"] for o in items if "youth-diversion" in themes(o)
    ]
    assert get("theme=youth-diversion&theme=mentoring") == [
        o["ref"] for o in items if {"youth-diversion", "mentoring"} <= themes(o)
    ]
    assert get("small_org_friendly=true") == [o["ref"] for o in items if o["small_org_friendly"]]
    assert get("small_org_friendly=false") == [
        o["ref"] for o in items if not o["small_org_friendly"]
    ]
    now = datetime.now(UTC)
    for days in (13, 25, 50):
        assert get(f"closes_within={days}") == [
            o["ref"] for o in items
            if now < moment(o["closes_at"]) and london_days(now, moment(o["closes_at"])) <= days
        ]  # fmt: skip
    for o in items:  # a round that "closes in N days" is within N, not within N - 1
        if o["status"] in ("open", "closing_soon"):
            assert o["ref"] in get(f"closes_within={max(o['days_left'], 1)}")
            if o["days_left"] > 1:
                assert o["ref"] not in get(f"closes_within={o['days_left'] - 1}")
    for shift in (-30, -15, 0, 20, 55):
        day = now.astimezone(LONDON).date() + timedelta(days=shift)
        start = datetime.combine(day, datetime.min.time(), LONDON)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), LONDON)
        assert get(f"open_on={day}") == [
            o["ref"] for o in items
            if (o["opens_at"] is None or moment(o["opens_at"]) < end)
            and moment(o["closes_at"]) > start
        ], day  # fmt: skip
    for status in uc.STATUSES:
        only = refs(get_json(shared_demo_app, f"/api/v1/opportunities?status={status}")["contents"])
        assert only == [o["ref"] for o in items if o["status"] == status]


def test_bad_input(shared_demo_app: Flask) -> None:
    client = shared_demo_app.test_client()
    for query, status in [
        ("theme=nope", 422), ("status=soon", 422), ("area=Narnia", 404),
        ("postcode=ZZ", 422), ("area=Lambeth&postcode=SW2 1RW", 422), ("closes_within=0", 422),
        ("open_on=2026-02-30", 422), ("per_page=0", 422),
    ]:  # fmt: skip
        response = client.get(f"/api/v1/opportunities?{query}")
        assert response.status_code == status, query
        assert response.mimetype == "application/problem+json"
    assert client.get("/api/v1/opportunities/nope").status_code == 404
    assert client.get("/api/v1/opportunities/999999").status_code == 404


@pytest.mark.parametrize("key", ["0{id}", "²", "١", "①"])
def test_only_a_canonical_id_names_an_opportunity(shared_demo_app: Flask, key: str) -> None:
    """ "²" and "①" (which str.isdigit takes, int not) were a 500; "١" and "0{id}" (which int
    takes) answered the opportunity at a second URL. Each is a 404 problem now."""
    client = shared_demo_app.test_client()
    found = client.get("/api/v1/opportunities/demo-kingston-snb-small-grants").get_json()
    assert client.get(f"/api/v1/opportunities/{found['id']}").status_code == 200
    missing = client.get(f"/api/v1/opportunities/{key.format(id=found['id'])}")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"


def test_one_by_id_or_ref(shared_demo_app: Flask) -> None:
    client = shared_demo_app.test_client()
    by_ref = client.get("/api/v1/opportunities/demo-kingston-snb-small-grants")
    body = by_ref.get_json()
    by_id = client.get(f"/api/v1/opportunities/{body['id']}")
    assert by_id.get_json() == body
    assert by_ref.headers["ETag"] == by_id.headers["ETag"]
    assert not by_ref.headers["ETag"].startswith("W/")
    assert body["funder"] == {
        "ref": "GB-GOR-PC390",
        "name": "Mayor's Office for Policing and Crime",
    }
    assert body["areas"] == [
        {"code": "E09000021", "name": "Kingston upon Thames", "type": "borough"}
    ]
    assert body["small_org_rule"].startswith("Groups with an annual income under £100,000")
    assert body["grant_length_months"] == {"min": 6, "max": 12}
    assert body["amount_max"] == 5000.0 and body["currency"] == "GBP"
    again = client.get(
        f"/api/v1/opportunities/{body['id']}", headers={"If-None-Match": by_ref.headers["ETag"]}
    )
    assert again.status_code == 304


def test_csv_and_geojson(shared_demo_app: Flask) -> None:
    client = shared_demo_app.test_client()
    items = get_json(shared_demo_app, f"/api/v1/opportunities?{ALL}")["contents"]
    response = client.get(f"/api/v1/opportunities?{ALL}&format=csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["ref"] for r in rows] == refs(items)
    assert [r["status"] for r in rows] == [o["status"] for o in items]
    assert rows[0]["areas"] == "; ".join(a["code"] for a in items[0]["areas"])
    response = client.get(f"/api/v1/opportunities?{ALL}", headers={"Accept": "text/csv"})
    assert response.mimetype == "text/csv"
    collection = client.get(
        f"/api/v1/opportunities?{ALL}", headers={"Accept": "application/geo+json"}
    ).get_json()
    assert collection["numberMatched"] == len(items) == len(collection["features"])
    for feature, item in zip(collection["features"], items, strict=True):
        assert feature["properties"]["ref"] == item["ref"]
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        lon, lat = _first_position(feature["geometry"])
        assert -0.6 < lon < 0.4 and 51.2 < lat < 51.8  # London, lon/lat order
    page = client.get("/api/v1/opportunities?format=geojson&per_page=1&page=2")
    assert 'rel="next"' in page.headers["Link"] or 'rel="prev"' in page.headers["Link"]


def _first_position(geometry: dict[str, Any]) -> tuple[float, float]:
    coordinates: Any = geometry["coordinates"]
    while isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    return coordinates[0], coordinates[1]


def test_atom_feed(shared_demo_app: Flask) -> None:
    client = shared_demo_app.test_client()
    response = client.get("/api/v1/opportunities.atom?area=Lambeth")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    expected = get_json(shared_demo_app, "/api/v1/opportunities?area=Lambeth")["contents"]
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert sorted(titles) == sorted(
        f"{o['title']} ({o['funder']['name']}): {o['time_left']}" for o in expected
    )
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert all(i.startswith("urn:uuid:") for i in ids) and len(set(ids)) == len(ids)
    other_host = client.get(
        "/api/v1/opportunities.atom?area=Lambeth", base_url="https://example.org"
    )
    assert [
        e.findtext(f"{ATOM}id") for e in ET.fromstring(other_host.data).findall(f"{ATOM}entry")
    ] == ids
    assert feed.findtext(f"{ATOM}title") == "Funding opportunities: Lambeth"


def test_calendar_feed(shared_demo_app: Flask) -> None:
    client = shared_demo_app.test_client()
    response = client.get("/api/v1/opportunities.ics?area=E09000021")
    assert response.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(response.data)
    items = get_json(shared_demo_app, f"/api/v1/opportunities?{ALL}&area=E09000021")["contents"]
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    expected = {f"{o['ref']}-closes@{uc.UID_DOMAIN}": o for o in items}
    expected.update({f"{o['ref']}-opens@{uc.UID_DOMAIN}": o for o in items if o["opens_at"]})
    assert set(events) == set(expected)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]
    for uid, event in events.items():
        start = event.decoded("DTSTART")
        assert str(start.tzinfo) == "Europe/London"
        assert event["DTSTART"].params["TZID"] == "Europe/London"
        item = expected[uid]
        wanted = item["closes_at"] if uid.endswith(f"-closes@{uc.UID_DOMAIN}") else item["opens_at"]
        assert start == moment(wanted)
        assert str(event["URL"]) == item["how_to_apply_url"]
    assert client.get("/api/v1/opportunities.ics?area=E09000021").data == response.data


@pytest.mark.parametrize("small", ["true", "false"])
def test_the_feeds_take_small_org_friendly_and_are_titled_by_their_filters(
    shared_demo_app: Flask, small: str
) -> None:
    """A small organisation subscribes to the rounds that suit it (the feeds refused
    small_org_friendly with a 400); each feed's title names its themes and that filter, so
    two subscriptions read apart (both were "Funding opportunities: London")."""
    client = shared_demo_app.test_client()
    query = f"small_org_friendly={small}&theme=community-safety"
    listed = get_json(shared_demo_app, f"/api/v1/opportunities?{query}")["contents"]
    every = get_json(shared_demo_app, f"/api/v1/opportunities?{ALL}&{query}")["contents"]
    assert all(o["small_org_friendly"] is (small == "true") for o in every)
    feed = ET.fromstring(client.get(f"/api/v1/opportunities.atom?{query}").data)
    titles = [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")]
    assert sorted(titles) == sorted(
        f"{o['title']} ({o['funder']['name']}): {o['time_left']}" for o in listed
    )
    theme = next(
        t["name"] for t in get_json(shared_demo_app, "/api/v1/themes")["contents"]
        if t["id"] == "community-safety"
    )  # fmt: skip
    which = "for small organisations" if small == "true" else "not marked for small organisations"
    assert feed.findtext(f"{ATOM}title") == f"Funding opportunities: London, {theme}, {which}"
    cal = icalendar.Calendar.from_ical(client.get(f"/api/v1/opportunities.ics?{query}").data)
    closing = {str(e["UID"]) for e in cal.walk("VEVENT") if "-closes@" in str(e["UID"])}
    assert closing == {f"{o['ref']}-closes@{uc.UID_DOMAIN}" for o in every}
    assert str(cal["X-WR-CALNAME"]) == f"Funding deadlines: London, {theme}, {which}"


def test_the_feeds_take_a_postcode_as_the_list_does(shared_demo_app: Flask) -> None:
    """A small organisation subscribes by its postcode: the Atom and iCalendar feeds hold
    what /opportunities?postcode= lists, titled with the postcode and its ward; a bad or
    doubled place is the list's problem."""
    client = shared_demo_app.test_client()
    postcode = "SW2 1RW"
    listed = get_json(shared_demo_app, f"/api/v1/opportunities?postcode={postcode}")["contents"]
    ward = get_json(shared_demo_app, f"/api/v1/postcodes/{postcode}")["ward"]["name"]
    feed = ET.fromstring(client.get(f"/api/v1/opportunities.atom?postcode={postcode}").data)
    titles = [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")]
    assert listed and sorted(titles) == sorted(
        f"{o['title']} ({o['funder']['name']}): {o['time_left']}" for o in listed
    )
    assert feed.findtext(f"{ATOM}title") == f"Funding opportunities: {postcode} ({ward})"
    items = get_json(shared_demo_app, f"/api/v1/opportunities?{ALL}&postcode={postcode}")
    cal = icalendar.Calendar.from_ical(
        client.get(f"/api/v1/opportunities.ics?postcode={postcode}").data
    )
    closing = {str(e["UID"]) for e in cal.walk("VEVENT") if "-closes@" in str(e["UID"])}
    assert closing == {f"{o['ref']}-closes@{uc.UID_DOMAIN}" for o in items["contents"]}
    for path in ("opportunities.atom", "opportunities.ics"):
        for query, status, code in (
            ("postcode=not-a-postcode", 422, "invalid-postcode"),
            ("postcode=EH1 1YZ", 404, "outside-coverage"),
            (f"postcode={postcode}&area=Lambeth", 422, "invalid-input"),
        ):
            response = client.get(f"/api/v1/{path}?{query}")
            assert (response.status_code, response.json["code"]) == (status, code), query


def test_patch_lists_open_opportunities(shared_demo_app: Flask) -> None:
    patch = get_json(shared_demo_app, "/api/v1/patch?postcode=SW2 1RW")
    listed = get_json(shared_demo_app, "/api/v1/opportunities?postcode=SW2 1RW")["contents"]
    answer = patch["opportunities"]
    expected = [o for o in listed if o["status"] in ("open", "closing_soon")]
    assert refs(answer["contents"]) == refs(expected)
    assert answer["total"] == len(expected)
    assert [o["time_left"] for o in answer["contents"]] == [o["time_left"] for o in expected]
    scopes = {o["ref"]: o["scope"] for o in answer["contents"]}
    assert scopes == {"demo-lcpf-co-commissioning-round": "borough",
                      "demo-brixton-acre-lane-micro-grants": "ward"}  # fmt: skip
    assert answer["all_url"] == "/api/v1/opportunities?area=E05014095"
    borough = get_json(shared_demo_app, "/api/v1/patch?area=Kingston")["opportunities"]
    in_kingston = get_json(shared_demo_app, "/api/v1/opportunities?area=Kingston")["contents"]
    assert refs(borough["contents"]) == [
        o["ref"] for o in in_kingston if o["status"] in ("open", "closing_soon")
    ]
    assert {o["scope"] for o in borough["contents"]} == {"borough", "bcu"}


def test_statuses_at_another_time(shared_demo_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The status is the time of asking's: just before and at a deadline."""
    item = next(
        o for o in everything(shared_demo_app) if o["ref"] == "demo-kingston-snb-small-grants"
    )
    closes = moment(item["closes_at"]).astimezone(UTC)
    url = "/api/v1/opportunities/demo-kingston-snb-small-grants"
    monkeypatch.setattr(web_state, "now", lambda: closes - timedelta(seconds=1))
    assert get_json(shared_demo_app, url)["status"] == "closing_soon"
    assert get_json(shared_demo_app, url)["time_left"] == "closes today at 23:59"
    monkeypatch.setattr(web_state, "now", lambda: closes)
    assert get_json(shared_demo_app, url)["status"] == "closed"
    assert "demo-kingston-snb-small-grants" not in refs(
        get_json(shared_demo_app, "/api/v1/opportunities?area=Kingston")["contents"]
    )


def test_a_patchs_opportunities_are_the_time_of_askings_on_every_day(
    shared_demo_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A patch keeps its opportunities' answer for a day in which none changes status: at
    any time of asking it is what the list says then, on the deadline's day (answered
    afresh) and on the days before it (kept, the days left counting down)."""
    item = next(
        o for o in everything(shared_demo_app) if o["ref"] == "demo-kingston-snb-small-grants"
    )
    closes = moment(item["closes_at"]).astimezone(UTC)
    seen = {}
    for at in (
        closes - timedelta(days=4, hours=14), closes - timedelta(days=4, hours=3),
        closes - timedelta(days=3), closes - timedelta(seconds=1), closes,
        closes + timedelta(days=1), closes - timedelta(days=4, hours=9),
    ):  # fmt: skip
        monkeypatch.setattr(web_state, "now", lambda at=at: at)
        patch = get_json(shared_demo_app, "/api/v1/patch?area=Kingston")["opportunities"]
        listed = get_json(shared_demo_app, "/api/v1/opportunities?area=Kingston")["contents"]
        expected = [o for o in listed if o["status"] in ("open", "closing_soon")]
        assert refs(patch["contents"]) == refs(expected), at
        assert [(o["status"], o["days_left"], o["time_left"]) for o in patch["contents"]] == [
            (o["status"], o["days_left"], o["time_left"]) for o in expected
        ], at
        seen[at] = {o["ref"]: o["time_left"] for o in patch["contents"]}
    ref = "demo-kingston-snb-small-grants"
    day_before = [seen[closes - timedelta(days=4, hours=h)] for h in (14, 9, 3)]
    assert day_before[0][ref] == "closes in 4 days" and day_before.count(day_before[0]) == 3
    assert seen[closes - timedelta(days=3)][ref] == "closes in 3 days"
    assert seen[closes - timedelta(seconds=1)][ref] == "closes today at 23:59"
    assert ref not in seen[closes]


# -- writes --------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=BACKENDS)
def write_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """A copy of the demo directory of this module's own, per backend, for the writes."""
    tmp = request.getfixturevalue("tmp_path_factory").mktemp(f"opportunities-{request.param}")
    app = create_app(demo_copy(request, request.param, tmp))
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture(scope="module")
def keys(write_app: Flask) -> dict[str, str]:
    return {
        role: make_key(write_app, role, *(["--organisation", "GB-GOR-PC390"] if role == "editor" else []))["key"]
        for role in ("admin", "officer", "editor")
    }  # fmt: skip


def new_body(ref: str, **extra: Any) -> dict[str, Any]:
    closes = datetime.now(LONDON).replace(microsecond=0) + timedelta(days=30)
    return {
        "ref": ref, "title": f"Round {ref}", "funder": {"name": "MOPAC", "ref": "GB-GOR-PC390"},
        "closes_at": closes.isoformat(), "areas": ["Lambeth"], "themes": ["vawg"],
        "programme": "vawg", "amount_min": 1000, "amount_max": 5000,
        "small_org_friendly": True, "small_org_rule": "Income under £250k",
        "contact": {"name": "A Person", "email": "person@example.org"}, **extra,
    }  # fmt: skip


def post(app: Flask, body: Any, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return app.test_client().post("/api/v1/opportunities", json=body, headers=headers)


def test_create_by_role(write_app: Flask, keys: dict[str, str]) -> None:
    assert post(write_app, new_body("r-none"), None).status_code == 401
    response = post(write_app, new_body("r-editor"), keys["editor"])
    assert response.status_code == 403
    assert response.get_json()["code"] == "wrong-role"
    for role in ("officer", "admin"):
        response = post(write_app, new_body(f"r-{role}"), keys[role])
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        assert response.headers["Location"] == body["url"]
        assert body["areas"] == [{"code": "E09000022", "name": "Lambeth", "type": "borough"}]
        assert body["status"] == "open" and body["contact"] is None  # not published
        assert body["funder"]["ref"] == "GB-GOR-PC390"
        assert get_json(write_app, body["url"]) == body
    assert post(write_app, new_body("r-officer"), keys["officer"]).status_code == 409
    listed = get_json(write_app, "/api/v1/opportunities?postcode=SW2 1RW")["contents"]
    assert {"r-officer", "r-admin"} <= set(refs(listed))
    patch = get_json(write_app, "/api/v1/patch?postcode=SW2 1RW")["opportunities"]
    assert {"r-officer", "r-admin"} <= set(refs(patch["contents"]))
    events = get_json(write_app, "/api/v1/changes?entity=opportunity&per_page=1000")["contents"]
    created = {e["entity_ref"]: e for e in events if e["action"] == "created"}
    assert created["r-admin"]["url"] == body["url"]
    assert created["r-admin"]["summary"].startswith("Opportunity 'Round r-admin' added by ")
    assert {a["code"] for a in created["r-admin"]["areas"]} == {"E09000022"}


def test_a_write_keeps_the_postcodes_a_worker_holds(write_app: Flask, keys: dict[str, str]) -> None:
    """An opportunity written through a worker that keeps every postcode moves the data
    version but not the geography: the worker keeps its postcodes (before, it dropped its
    whole snapshot and read all 188,000 rows again), and its next patch shows the write."""
    settings = write_app.extensions["directory"].settings
    app = create_app(settings.with_overrides(postcodes_in_memory="on"))
    web_state.warm(app)
    try:
        with every_postcode_read(app.extensions["directory"].db.engine) as readers:
            assert post(app, new_body("r-kept"), keys["officer"]).status_code == 201
            patch = get_json(app, "/api/v1/patch?postcode=SW2 1RW")["opportunities"]
        assert "r-kept" in refs(patch["contents"])
        assert readers == []
    finally:
        app.extensions["directory"].db.dispose()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"areas": ["Narnia"]}, "areas"), ({"themes": ["nope"]}, "themes"),
        ({"programme": "nope"}, "programme"), ({"amount_min": 9000}, "amount_min"),
        ({"opens_at": "2099-01-01T00:00:00Z"}, "opens_at"), ({"closes_at": "soon"}, "closes_at"),
        ({"ref": "has space"}, "ref"), ({"colour": "red"}, "colour"),
        ({"contact": {"email": "not-an-email"}}, "contact"), ({"amount_max": -1}, "amount_max"),
        ({"areas": []}, "areas"),
        # a JSON value of another type than the schema's (marshmallow's fields took them)
        ({"amount_min": "1000"}, "amount_min"), ({"small_org_friendly": 1}, "small_org_friendly"),
        ({"contact_public": "yes"}, "contact_public"), ({"awards_expected": 2.5}, "awards_expected"),
        ({"awards_expected": "3"}, "awards_expected"),
        ({"grant_length_months": {"min": "6"}}, "grant_length_months"),
        # moments with no day in the calendar the feeds hold (the first two have no UTC day
        # at all: a 500; the third was kept, and the calendar feed failed for everyone)
        ({"closes_at": "9999-12-31T23:59:59-01:00"}, "closes_at"),
        ({"opens_at": "0001-01-01T00:00:00+01:00"}, "opens_at"),
        ({"opens_at": "0001-01-01"}, "opens_at"), ({"closes_at": "2300-01-01"}, "closes_at"),
        # a month alone, a quarter: ISO 8601 alone, not the sheet's looser forms (a month
        # alone is not guessed at over the API: there is no cell to warn on)
        ({"closes_at": "March 2027"}, "closes_at"), ({"closes_at": "2027-03"}, "closes_at"),
        ({"opens_at": "Q1 2027"}, "opens_at"),
        # blank text, once tidied as the Opportunities sheet's cells are
        ({"title": " \t\n "}, "title"), ({"funder": {"name": " "}}, "funder.name"),
        # less than a penny (it was kept as £0), as the sheet refuses it
        ({"total_pot": 0.004}, "total_pot"),
    ],
)  # fmt: skip
def test_create_refuses_bad_input(
    write_app: Flask, keys: dict[str, str], change: dict[str, Any], field: str
) -> None:
    response = post(write_app, {**new_body("bad-input"), **change}, keys["officer"])
    assert response.status_code == 422, response.get_json()
    assert field in str(response.get_json()["errors"])
    assert write_app.test_client().get("/api/v1/opportunities/bad-input").status_code == 404


def test_written_text_is_tidied_as_the_sheets_is(write_app: Flask, keys: dict[str, str]) -> None:
    """An opportunity's text over the API is read as the Opportunities sheet's cells are, as
    a service's is: every run of whitespace (tabs, new lines) one space, the ends stripped;
    so the same round written either way is stored the same."""
    body = new_body(
        "r-tidy", title=" Knife\tcrime  fund\n", funder={"name": "\tMOPAC "},
        summary="a\tb\n\nc", eligibility="  x  ", small_org_rule="\n",
    )  # fmt: skip
    response = post(write_app, body, keys["officer"])
    assert response.status_code == 201, response.get_json()
    held = get_json(write_app, "/api/v1/opportunities/r-tidy")
    assert held["title"] == "Knife crime fund" and held["funder"]["name"] == "MOPAC"
    assert (held["summary"], held["eligibility"], held["small_org_rule"]) == ("a b c", "x", None)


def send(app: Flask, method: str, url: str, key: str | None, etag: str | None = None,
         body: Any = None) -> Any:  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if etag is not None:
        headers["If-Match"] = etag
    return app.test_client().open(url, method=method, json=body, headers=headers)


def test_two_changes_sent_with_one_etag_do_not_both_succeed(
    write_app: Flask, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second waits for the first's write lock, then finds the ETag changed (412).
    Without the lock both were 200 (69 of 200 races under gunicorn), one change lost and
    the history's chain broken."""
    from directory.usecases import opportunities

    url = post(write_app, new_body("r-race"), keys["officer"]).get_json()["url"]
    etag = write_app.test_client().get(url).headers["ETag"]

    def change(title: str) -> Callable[[], int]:
        return lambda: (
            send(write_app, "PATCH", url, keys["officer"], etag, {"title": title}).status_code
        )

    answers = first_held(monkeypatch, opportunities, "_save", change("First"), change("Second"))
    assert answers == (200, 412)
    assert write_app.test_client().get(url).get_json()["title"] == "First"


def test_a_deadline_given_as_a_date_alone_closes_at_the_end_of_that_day(
    write_app: Flask, keys: dict[str, str]
) -> None:
    """As the spreadsheet reads it: a date alone is 23:59 London time for a deadline, and
    the start of the day for an opening (a deadline of "2027-06-30" closed at 00:00 that
    day over the API until 6 December, a day early); a time given is kept."""
    body = new_body("r-dates", closes_at="2027-06-30", opens_at="2027-06-01")
    made = post(write_app, body, keys["officer"])
    assert made.status_code == 201, made.get_json()
    held = made.get_json()
    assert (held["opens_at"], held["closes_at"]) == (
        "2027-06-01T00:00:00+01:00",
        "2027-06-30T23:59:00+01:00",
    )  # (British Summer Time)
    etag = made.headers["ETag"]
    change = {"closes_at": "2027-12-01"}
    changed = send(write_app, "PATCH", held["url"], keys["officer"], etag, change).get_json()
    assert changed["closes_at"] == "2027-12-01T23:59:00+00:00"
    etag = write_app.test_client().get(held["url"]).headers["ETag"]
    change = {"closes_at": "2027-12-01T12:00"}
    changed = send(write_app, "PATCH", held["url"], keys["officer"], etag, change).get_json()
    assert changed["closes_at"] == "2027-12-01T12:00:00+00:00"


def test_a_contact_not_published_never_reaches_the_history_or_the_feeds(
    write_app: Flask, keys: dict[str, str]
) -> None:
    """A change to a contact that is not to be published is recorded as "(not published)"
    (until 6 December the old and new name and address were in the history, /changes and
    changes.atom, sent to anyone with public caching); once it is public, its new value is
    shown and its old one still is not."""
    url = post(write_app, new_body("r-private"), keys["officer"]).get_json()["url"]
    secret = {"name": "Jane Officer", "email": "jane.private@example.org"}
    for change in ({"contact": secret}, {"contact": {**secret, "email": "jane.2@example.org"}}):
        etag = write_app.test_client().get(url).headers["ETag"]
        response = send(write_app, "PATCH", url, keys["officer"], etag, change)
        assert response.status_code == 200, response.get_json()
    feeds = [
        write_app.test_client().get(path).get_data(as_text=True)
        for path in (
            f"{url}/history", "/api/v1/changes?entity=opportunity&per_page=1000",
            "/api/v1/changes.atom",
        )
    ]  # fmt: skip
    for text in feeds:
        assert "(not published)" in text
        assert not any(v in text for v in ("Jane", "jane.", "person@example.org")), text[:300]
    etag = write_app.test_client().get(url).headers["ETag"]
    public = {"contact": {**secret, "email": "jane.public@example.org"}, "contact_public": True}
    assert send(write_app, "PATCH", url, keys["officer"], etag, public).status_code == 200
    history = write_app.test_client().get(f"{url}/history").get_data(as_text=True)
    assert "jane.public@example.org" in history and "jane.2@" not in history


def test_migration_0026_takes_private_contacts_out_of_the_events_held(
    write_app: Flask, keys: dict[str, str]
) -> None:
    """Events written before the writer kept private contacts out (set back here to what
    it wrote then) lose them on migrating: the contact of an opportunity not public now
    becomes "(not published)"; a public one's is left as it was."""
    from alembic import command
    from sqlalchemy import text

    urls = {}
    for ref, public in (("r-legacy", False), ("r-open", True)):
        urls[ref] = post(
            write_app, new_body(ref, contact_public=public), keys["officer"]
        ).get_json()["url"]
        etag = write_app.test_client().get(urls[ref]).headers["ETag"]
        change = {"contact": {"name": "New Name", "email": "new@example.org"}}
        assert send(write_app, "PATCH", urls[ref], keys["officer"], etag, change).status_code == 200
    db = write_app.extensions["directory"].db
    raw = {"contact_name": ["A Person", "New Name"], "contact_email": ["person@example.org", "new@example.org"],
           "title": ["x", "y"]}  # fmt: skip
    with db.engine.begin() as connection:
        ids = dict(connection.execute(text(
            "SELECT o.ref, e.id FROM change_event e JOIN opportunity o ON o.id = e.entity_id "
            "WHERE e.entity = 'opportunity' AND e.action = 'updated' AND o.ref IN ('r-legacy', 'r-open')"
        )).all())  # fmt: skip
        for event_id in ids.values():
            connection.execute(
                text("UPDATE change_event SET changes = :changes WHERE id = :id"),
                {"changes": json.dumps(raw), "id": event_id},
            )
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0025")
        command.upgrade(config, "head")
    with db.engine.begin() as connection:
        held = {
            ref: connection.execute(
                text("SELECT changes FROM change_event WHERE id = :id"), {"id": event_id}
            ).scalar_one()
            for ref, event_id in ids.items()
        }
    held = {ref: json.loads(v) if isinstance(v, str) else v for ref, v in held.items()}
    assert held["r-legacy"] == {
        "contact_name": ["(not published)", "(not published)"],
        "contact_email": ["(not published)", "(not published)"], "title": ["x", "y"],
    }  # fmt: skip
    assert held["r-open"] == raw


def test_change_and_withdraw(write_app: Flask, keys: dict[str, str]) -> None:
    created = post(write_app, new_body("r-change"), keys["officer"])
    made = created.get_json()
    url = made["url"]
    etag = write_app.test_client().get(url).headers["ETag"]
    # a write answers with the record's ETag, as GET gives it: the next write's If-Match
    assert created.headers["ETag"] == etag and created.headers["Cache-Control"] == "no-store"
    change = {
        "title": "Round r-change, extended",
        "areas": ["E12000007"],
        "grant_length_months": {"max": 36},
    }
    for method, body in (("PATCH", change), ("DELETE", None)):
        assert send(write_app, method, url, None, etag, body).status_code == 401
        assert send(write_app, method, url, keys["editor"], etag, body).status_code == 403
        response = send(write_app, method, url, keys["officer"], None, body)
        assert (
            response.status_code == 428 and response.get_json()["code"] == "precondition-required"
        )
        response = send(write_app, method, url, keys["officer"], '"stale"', body)
        assert response.status_code == 412 and response.get_json()["current_etag"] == etag
        assert (
            send(
                write_app, method, "/api/v1/opportunities/nope", keys["officer"], "*", body
            ).status_code
            == 404
        )
    assert (
        send(write_app, "PATCH", url, keys["officer"], etag, {"areas": ["Narnia"]}).status_code
        == 422
    )
    assert (
        send(write_app, "PATCH", url, keys["officer"], etag, {"ref": "renamed"}).status_code == 422
    )
    response = send(write_app, "PATCH", url, keys["officer"], etag, change)
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert changed["title"] == change["title"] and changed["grant_length_months"] == {
        "min": None,
        "max": 36,
    }
    assert changed["areas"] == [{"code": "E12000007", "name": "London", "type": "region"}]
    assert changed["amount_max"] == made["amount_max"]  # untouched members stay
    assert (
        send(write_app, "PATCH", url, keys["admin"], etag, change).status_code == 412
    )  # stale now
    fresh = write_app.test_client().get(url).headers["ETag"]
    assert fresh != etag and response.headers["ETag"] == fresh
    assert "r-change" in refs(
        get_json(write_app, "/api/v1/opportunities?postcode=KT1 1EU")["contents"]
    )
    assert send(write_app, "DELETE", url, keys["admin"], fresh).status_code == 204
    gone = get_json(write_app, url)
    assert gone["status"] == "withdrawn" and gone["withdrawn_at"] is not None
    assert "r-change" not in refs(
        get_json(write_app, f"/api/v1/opportunities?{ALL}&per_page=1000")["contents"]
    )
    assert "r-change" not in refs(
        get_json(write_app, "/api/v1/patch?postcode=KT1 1EU")["opportunities"]["contents"]
    )
    events = get_json(write_app, "/api/v1/changes?entity=opportunity&per_page=1000")["contents"]
    mine = [(e["action"], sorted(e["changes"])) for e in events if e["entity_ref"] == "r-change"]
    assert mine == [
        ("withdrawn", []),
        ("updated", ["areas", "grant_months_max", "title"]),
        ("created", []),
    ]
    updated = next(e for e in events if e["entity_ref"] == "r-change" and e["action"] == "updated")
    assert updated["changes"]["title"] == {"old": "Round r-change", "new": change["title"]}
    again = write_app.test_client().get(url).headers["ETag"]
    response = send(write_app, "PATCH", url, keys["officer"], again, {"summary": "Back again"})
    assert response.get_json()["status"] == "open"  # restored


# -- the template's Opportunities sheet ------------------------------------------------------
def workbook(tmp_path: Any, rows: list[dict[str, Any]]) -> bytes:
    """The blank template (`directory template`) with these rows on its Opportunities sheet."""
    from openpyxl import load_workbook

    from directory.ingest.opportunity_sheet import HEADINGS
    from directory.ingest.template import write_template

    path = tmp_path / "template.xlsx"
    write_template(path, format="xlsx")
    book = load_workbook(path)
    sheet = book["Opportunities"]
    assert [c.value for c in sheet[1]] == HEADINGS
    for row in rows:
        sheet.append([row.get(h) for h in HEADINGS])
    book.save(path)
    return path.read_bytes()


def sheet_row(ref: str, **cells: Any) -> dict[str, Any]:
    closes = date.today() + timedelta(days=40)
    return {
        "Opportunity ref": ref, "Title": f"Sheet round {ref}", "Funder": "MOPAC",
        "Programme": "VRU", "Closes": f"{closes:%d/%m/%Y} 12:00", "Areas": "Lambeth; Southwark",
        "Themes": "knife crime", "Amount max": "£50k", "Small org friendly": "yes",
        "Small org rule": "Income under £250k", "Opens": datetime(2026, 1, 5, 9, 30),
        **cells,
    }  # fmt: skip


def test_template_sheet_imports_all_or_nothing(
    write_app: Flask, keys: dict[str, str], tmp_path: Any
) -> None:
    from tests.directory.test_keys import upload

    bad = workbook(tmp_path, [
        sheet_row("sheet-good"),
        sheet_row("sheet-bad", Closes="soon", Areas="Narnia", Title=None),
        sheet_row("sheet-good"),
    ])  # fmt: skip
    response = upload(write_app, bad, key=keys["officer"], name="rounds.xlsx")
    assert response.status_code == 422
    problems = {
        (p["row"], p["column"]) for p in response.get_json()["problems"] if p["severity"] == "error"
    }
    assert {(3, "Closes"), (3, "Areas"), (3, "Title"), (4, "Opportunity ref")} <= problems
    assert write_app.test_client().get("/api/v1/opportunities/sheet-good").status_code == 404
    # a row's values that disagree with each other: its row and the sheet's columns, not
    # the record's fields ("opens_at")
    from directory.ingest.opportunity_sheet import HEADINGS

    late = workbook(tmp_path, [
        sheet_row("sheet-fine"),
        sheet_row("sheet-late", Opens=datetime(2099, 1, 1, 9), **{"Amount min": "£60k"}),
    ])  # fmt: skip
    response = upload(write_app, late, key=keys["officer"], name="rounds.xlsx")
    assert response.status_code == 422
    errors = [p for p in response.get_json()["problems"] if p["severity"] == "error"]
    assert {(p["row"], p["column"]) for p in errors} == {(3, "Opens"), (3, "Amount min")}
    assert all(p["message"].startswith("Opportunities: ") for p in errors), errors
    assert all(p["column"] in HEADINGS and "_" not in p["message"] for p in errors), errors
    # ... said beside another row's cell errors, in the same answer (until 6 December only
    # once every cell error of the sheet was mended)
    both = workbook(tmp_path, [
        sheet_row("sheet-cells", Closes="soon"),
        sheet_row("sheet-late", Opens=datetime(2099, 1, 1, 9), **{"Amount min": "£60k"}),
    ])  # fmt: skip
    response = upload(write_app, both, key=keys["officer"], name="rounds.xlsx")
    assert response.status_code == 422
    errors = [p for p in response.get_json()["problems"] if p["severity"] == "error"]
    assert {(p["row"], p["column"]) for p in errors} == {
        (2, "Closes"),
        (3, "Opens"),
        (3, "Amount min"),
    }
    good = workbook(tmp_path, [sheet_row("sheet-good"), sheet_row("sheet-two", Demo="yes")])
    response = upload(write_app, good, key=keys["officer"], name="rounds.xlsx")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["counts"]["opportunities"]["created"] == 2
    body = get_json(write_app, "/api/v1/opportunities/sheet-good")
    assert body["funder"] == {
        "ref": "GB-GOR-PC390",
        "name": "Mayor's Office for Policing and Crime",
    }
    assert body["programme"]["id"] == "vru" and body["amount_max"] == 50000.0
    assert [a["code"] for a in body["areas"]] == ["E09000022", "E09000028"]
    assert body["closes_at"].endswith("T12:00:00+00:00") or body["closes_at"].endswith(
        "T12:00:00+01:00"
    )
    assert body["opens_at"] == "2026-01-05T09:30:00+00:00"
    assert get_json(write_app, "/api/v1/opportunities/sheet-two")["demo"] is True
    again = upload(write_app, good, key=keys["officer"], name="rounds.xlsx")
    assert again.get_json()["status"] == "unchanged"


def test_a_sheets_excel_errors_are_each_refused_and_a_month_alone_closes_on_its_last_day(
    write_app: Flask, tmp_path: Any
) -> None:
    """Through `directory import`: every Excel error value of the Opportunities sheet is a
    problem of its own cell beside the sheet's other problems (the first was the file's one
    problem), and nothing is written; mended, a Closes of a month alone closes at 23:59 on
    its last day, London time (it closed on the 1st, a month early), said in a warning on
    the cell."""
    import calendar

    from directory.cli import cli
    from tests.directory.test_import import dump

    month = (date.today().replace(day=1) + timedelta(days=100)).replace(day=1)
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    path = tmp_path / "xl-rounds.xlsx"
    good = sheet_row("xl-month", Closes=f"{month:%B %Y}")
    path.write_bytes(workbook(tmp_path, [
        good,
        sheet_row("xl-errors", Closes="#N/A", Areas="#REF!", **{"Amount max": "#DIV/0!"}),
        sheet_row("xl-other", Title="#VALUE!", Themes="Mentorin"),
    ]))  # fmt: skip
    before = dump(write_app, skip=("import_run", "api_key"))
    result = write_app.test_cli_runner().invoke(cli, ["import", str(path), "--json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.output)["problems"]
    assert {(p["row"], p["column"], p["value"]) for p in problems if p["severity"] == "error"} == {
        (3, "Closes", "#N/A"),
        (3, "Areas", "#REF!"),
        (3, "Amount max", "#DIV/0!"),
        (4, "Title", "#VALUE!"),
        (4, "Themes", "Mentorin"),
    }
    said = [p for p in problems if (p["row"], p["column"]) == (2, "Closes")]
    assert [p["severity"] for p in said] == ["warning"]
    assert f"taken to close on its last day, {last.day} {last:%B %Y} at 23:59" in said[0]["message"]
    assert dump(write_app, skip=("import_run", "api_key")) == before
    path.write_bytes(workbook(tmp_path, [good, sheet_row("xl-errors")]))
    result = write_app.test_cli_runner().invoke(cli, ["import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    closes = get_json(write_app, "/api/v1/opportunities/xl-month")["closes_at"]
    assert closes == datetime(last.year, last.month, last.day, 23, 59, tzinfo=LONDON).isoformat()


def test_calendar_across_the_clock_change(write_app: Flask, keys: dict[str, str]) -> None:
    """Deadlines at noon London time either side of next spring's clock change: 12:00 GMT
    and 12:00 BST (11:00 UTC), each DTSTART with TZID Europe/London."""
    year = date.today().year + 1
    change = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
    for ref, day in (
        ("clock-before", change - timedelta(days=1)),
        ("clock-after", change + timedelta(days=1)),
    ):
        closes = datetime.combine(day, datetime.min.time().replace(hour=12))  # London, no offset
        body = new_body(ref, closes_at=closes.isoformat(), areas=["E09000030"])
        assert post(write_app, body, keys["officer"]).status_code == 201
    cal = icalendar.Calendar.from_ical(
        write_app.test_client().get("/api/v1/opportunities.ics?area=Tower Hamlets").data
    )
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    before = events[f"clock-before-closes@{uc.UID_DOMAIN}"].decoded("DTSTART")
    after = events[f"clock-after-closes@{uc.UID_DOMAIN}"].decoded("DTSTART")
    assert (before.hour, after.hour) == (12, 12)
    assert before.utcoffset() == timedelta(0) and after.utcoffset() == timedelta(hours=1)
    assert after.astimezone(UTC).hour == 11
    assert "DTSTART;TZID=Europe/London:" in cal.to_ical().decode()
    listed = get_json(write_app, "/api/v1/opportunities/clock-after")
    assert listed["closes_at"] == f"{change + timedelta(days=1)}T12:00:00+01:00"
