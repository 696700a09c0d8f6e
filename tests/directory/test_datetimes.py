"""Dates and date-times at the edges of the calendar, on the demo directory, on both backends.

Every query parameter that takes a date or a date-time (``since`` on /changes and its Atom
feed, ``updated_since`` on /services, ``live_on`` on /services, /patch and
/funding/summary) answers any value of Python's whole range, with any UTC offset, with a
200 or a 422 problem; never a 500. A date-time is refused exactly when it falls outside
years 1 to 9999 once read in UTC (``0001-01-01T00:00:00+01:00`` is in year 0); a
``live_on`` exactly when it is outside 1900-01-01 to 2199-12-31, the days a grant's
arithmetic (three years back, N days on) stays inside the calendar for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

PROBLEM = "application/problem+json"
EDGES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)

#: UTC offsets as ISO 8601 can write them: -23:59 to +23:59, to the minute or the second
offsets = st.one_of(
    st.none(),
    st.just(UTC),
    st.timedeltas(
        min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
    ).map(lambda d: timezone(timedelta(seconds=int(d.total_seconds())))),
)
moments = st.builds(
    lambda naive, zone: naive if zone is None else naive.replace(tzinfo=zone),
    st.datetimes(min_value=datetime.min, max_value=datetime.max),
    offsets,
)
LONDON_TZ = ZoneInfo("Europe/London")

EDGE_MOMENTS = [
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=1))),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
]


@pytest.fixture(scope="module")
def demo_app(shared_demo_app: Flask) -> Flask:
    """The demo directory on each backend (the session's, shared: these tests only read)."""
    return shared_demo_app


def _in_london_range(moment: datetime) -> bool:
    """Whether ``moment`` has a day in London's calendar within years 1 to 9999 (an OGC
    ``datetime`` is taken on London's day, as grants' days are)."""
    try:
        moment.astimezone(LONDON_TZ)
    except OverflowError:
        return False
    return True


def _in_utc_range(moment: datetime) -> bool:
    if moment.tzinfo is None:
        return True
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _check(app: Flask, path: str, accepted: bool, param: str) -> None:
    response = app.test_client().get(path)
    if accepted:
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        return
    assert response.status_code == 422, (path, response.get_data(as_text=True)[:300])
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == 422 and param in body["detail"]


@given(moment=moments)
@EDGES
def test_a_date_time_anywhere_in_the_calendar_is_answered_or_refused(
    demo_app: Flask, moment: datetime
) -> None:
    for path, param in (
        ("/api/v1/changes?since=", "since"),
        ("/api/v1/changes.atom?since=", "since"),
        ("/api/v1/services?updated_since=", "updated_since"),
    ):
        if param == "since" and moment.tzinfo is None:
            continue  # `since` must carry its zone (a 422 of its own, tested in test_changes)
        _check(demo_app, path + quote(moment.isoformat()), _in_utc_range(moment), param)


@pytest.mark.parametrize("moment", EDGE_MOMENTS, ids=lambda m: m.isoformat())
def test_the_instants_the_fault_run_found(demo_app: Flask, moment: datetime) -> None:
    """The values that were 500s (OverflowError in changes.py and the services search)."""
    for path, param in (
        ("/api/v1/changes?since=", "since"),
        ("/api/v1/changes.atom?since=", "since"),
        ("/api/v1/services?updated_since=", "updated_since"),
    ):
        _check(demo_app, path + quote(moment.isoformat()), _in_utc_range(moment), param)


@given(day=st.dates(min_value=date.min, max_value=date.max))
@example(day=date(1, 1, 1))  # the patch's "awards of the last three years" went to year 0
@example(day=date.max)
@example(day=FIRST_DAY)
@example(day=LAST_DAY)
@EDGES
def test_a_live_on_day_anywhere_in_the_calendar_is_answered_or_refused(
    demo_app: Flask, day: date
) -> None:
    accepted = FIRST_DAY <= day <= LAST_DAY
    for path in (
        "/api/v1/services?live_on=",
        "/api/v1/patch?postcode=SE1%207PB&live_on=",
        "/api/v1/funding/summary?by=borough&live_on=",
    ):
        _check(demo_app, path + day.isoformat(), accepted, "live_on")


@given(moment=moments)
@example(moment=EDGE_MOMENTS[0])
@example(moment=EDGE_MOMENTS[1])
@EDGES
def test_an_ogc_datetime_anywhere_in_the_calendar_is_answered_or_refused(
    demo_app: Flask, moment: datetime
) -> None:
    """OGC API – Features' ``datetime`` (an instant, or either end of an interval): a 200,
    or a 400 problem naming it, as OGC asks for a bad parameter; never a 500 (an instant
    whose day is outside years 1 to 9999 was one, on every collection)."""
    if moment.tzinfo is None:
        return  # (RFC 3339 wants the offset: a 400 of its own, tested in test_ogc_features)
    text = quote(moment.isoformat())
    accepted = _in_london_range(moment)
    client = demo_app.test_client()
    for collection in ("sites", "services", "boroughs"):
        for value in (text, f"{text}/..", f"../{text}"):
            path = f"/api/v1/ogc/collections/{collection}/items?datetime={value}"
            response = client.get(path)
            if accepted:
                assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
                continue
            assert response.status_code == 400, (path, response.get_data(as_text=True)[:300])
            assert response.mimetype == PROBLEM
            assert "datetime" in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/changes", "since"),
        ("/api/v1/services", "updated_since"),
        ("/api/v1/hsds/services", "modified_after"),
        ("/api/v1/ogc/collections/services/items", "datetime"),
    ],
)  # fmt: skip
def test_an_offsets_plus_sent_unencoded_is_read_as_meant(demo_app: Flask, path, param) -> None:
    """`…T08:46:22+01:00` typed into a URL arrives as `…T08:46:22 01:00` (a "+" in a query is
    a space): read as the +01:00 it was (it was a 422, on three of these without the value
    received); the answer is that of the "+" sent as %2B, and of the same instant in UTC;
    a value that cannot be read is refused showing it."""
    client = demo_app.test_client()
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)
    local = moment.astimezone(timezone(timedelta(hours=1))).isoformat()
    encoded = client.get(f"{path}?{param}={quote(local)}")
    unencoded = client.get(f"{path}?{param}={local}")
    in_utc = client.get(f"{path}?{param}={quote(moment.isoformat())}")
    assert encoded.status_code == unencoded.status_code == in_utc.status_code == 200

    def body(response):  # (an OGC page's links give back the query as it was sent)
        return {k: v for k, v in response.get_json().items() if k != "links"}

    assert body(unencoded) == body(encoded) == body(in_utc)
    refused = client.get(f"{path}?{param}=yesterday")
    assert refused.status_code in (400, 422) and "'yesterday'" in refused.get_json()["detail"]
