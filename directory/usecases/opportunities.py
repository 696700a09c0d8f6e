"""Funding opportunities (bidding rounds): lists by place, theme and dates, one opportunity,
an Atom feed and an iCalendar feed of deadlines, and the officers' writes. No Flask here.

Times are kept in UTC and shown in Europe/London with their offset. An opportunity's status
is worked out from its dates at the moment of asking (``now``), never stored:

- ``upcoming``: it opens later (``opens_at`` after now);
- ``closed``: its deadline has passed (``closes_at`` at or before now);
- ``closing_soon``: open, and it closes within DIRECTORY_CLOSING_SOON_DAYS (14) days;
- ``open``: open, with longer to go;
- ``withdrawn``: taken down (only one asked for by id or ref shows it; lists leave it out).

"Within N days", here and in ``closes_within``, counts London calendar days as
``days_left`` does: today or one of the next N days (``days_left`` at most N), so a round
that "closes in 7 days" is within 7, whatever the hour.

A place matches an opportunity when one of the opportunity's areas contains it or is
contained in it: London-wide matches everywhere, a borough's opportunity a postcode, a
ward or the BCU of that borough, a BCU's opportunity its boroughs and their wards
(:func:`directory.usecases.geography.area_scope`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from directory.errors import (
    AreaNotFoundError,
    InvalidInputError,
    OpportunityExistsError,
    OpportunityNotFoundError,
)
from directory.ingest import opportunities as writer
from directory.ingest.context import themes as taxonomy_themes
from directory.ingest.records import OpportunityRecord, Problem
from directory.ingest.values import clean_text, parse_amount
from directory.settings import Settings
from directory.store.db import Database
from directory.store.repositories.directory import CatalogueQueries, DirectoryRepository, as_id
from directory.store.repositories.geography import GeographyRepository
from directory.store.repositories.opportunities import (
    OpportunityFilter,
    OpportunityQueries,
    OpportunityRepository,
)
from directory.usecases import catalogue, feeds, geography
from directory.usecases.catalogue import area_ref
from directory.usecases.changes import ID_NAMESPACE
from directory.usecases.geography import (
    GeographyCache,
    GeographySnapshot,
    area_scope,
    resolve_area,
)
from directory.usecases.keys import Principal
from directory.usecases.pagination import envelope
from directory.usecases.times import utc_text
from directory.usecases.vocabulary import check_themes
from directory.usecases.writes import write_locked

LONDON_TZ = ZoneInfo("Europe/London")


@functools.lru_cache(maxsize=64)
def days_of_hour(hour: int) -> tuple[date, date]:
    """The UTC and London days of the UTC hour ``hour`` (hours since the epoch). An answer
    kept for a day is kept for both (grant statuses and an opportunity's days left follow
    London's; whether a status changes within the day is judged on the UTC day); both
    turn on a whole UTC hour (London is UTC or UTC+1), so they are the same all hour."""
    at = datetime.fromtimestamp(hour * 3600, UTC)
    return at.date(), at.astimezone(LONDON_TZ).date()


STATUSES = ("upcoming", "open", "closing_soon", "closed")
#: what a list holds unless ``status`` says otherwise: every round not yet closed
DEFAULT_STATUSES = ("upcoming", "open", "closing_soon")
PATH = "/api/v1/opportunities/"
#: entries in the Atom feed
FEED_LIMIT = 100
#: the iCalendar feed keeps deadlines this long after they pass (a calendar keeps history)
CALENDAR_PAST = timedelta(days=365)
#: opportunities the patch lists (``all_url`` has the rest)
PATCH_LIMIT = 10
#: the domain of the iCalendar UIDs (RFC 5545 §3.8.4.7: globally unique, never reused)
UID_DOMAIN = "opportunities.london-funded-services-directory"
STATUS_RULE = (
    "upcoming: opens later; open: accepting bids; closing_soon: open and closing within "
    "{days} days (days_left at most {days}); closed: the deadline has passed (times and "
    "days in Europe/London)"
)


# -- times and statuses ------------------------------------------------------------------
def _naive(moment: datetime) -> datetime:
    """An aware moment as the store's naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def london(moment: datetime | None) -> str | None:
    """A stored (naive UTC) time in Europe/London with its offset, ISO 8601."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(LONDON_TZ).isoformat()


def london_day(day: date) -> tuple[datetime, datetime]:
    """The start and end (naive UTC) of a calendar day in London (23 or 25 hours on the
    days the clocks change)."""
    start = datetime.combine(day, time(), LONDON_TZ)
    end = datetime.combine(day + timedelta(days=1), time(), LONDON_TZ)
    return _naive(start), _naive(end)


def within_days_end(now: datetime, days: int) -> datetime:
    """The end (naive UTC) of the London calendar day ``days`` after the day of ``now``
    (aware): a deadline before it closes within ``days`` days, as ``days_left`` counts."""
    return london_day(now.astimezone(LONDON_TZ).date() + timedelta(days=days))[1]


def soon_starts(closes_at: datetime, soon_days: int) -> datetime:
    """When a deadline (naive UTC) starts closing soon: the start of the London day
    ``soon_days`` before its own."""
    day = closes_at.replace(tzinfo=UTC).astimezone(LONDON_TZ).date()
    return london_day(day - timedelta(days=soon_days))[0]


def status_of(opens_at: datetime | None, closes_at: datetime, now: datetime, soon_days: int) -> str:
    """upcoming, open, closing_soon or closed at ``now`` (aware); the times naive UTC."""
    at = _naive(now)
    if opens_at is not None and opens_at > at:
        return "upcoming"
    if closes_at <= at:
        return "closed"
    if closes_at < within_days_end(now, soon_days):
        return "closing_soon"
    return "open"


def _days(n: int) -> str:
    return "today" if n == 0 else "tomorrow" if n == 1 else f"in {n} days"


def time_left(
    opens_at: datetime | None, closes_at: datetime, status: str, now: datetime
) -> tuple[int | None, str]:
    """(London calendar days until the deadline, or until it opens when upcoming; the
    words: "closes in 5 days", "closes today at 17:00", "opens tomorrow", "closed on 3
    March 2026")."""
    today = now.astimezone(LONDON_TZ).date()
    closes = closes_at.replace(tzinfo=UTC).astimezone(LONDON_TZ)
    if status == "withdrawn":
        return None, "withdrawn"
    if status == "closed":
        return None, f"closed on {closes.day} {closes:%B %Y}"
    if status == "upcoming":
        assert opens_at is not None
        opens = opens_at.replace(tzinfo=UTC).astimezone(LONDON_TZ)
        days = (opens.date() - today).days
        return days, f"opens {_days(days)}" + (f" at {opens:%H:%M}" if days < 2 else "")
    days = (closes.date() - today).days
    return days, f"closes {_days(days)}" + (f" at {closes:%H:%M}" if days < 2 else "")


def _pounds(pence: int | None) -> float | None:
    return None if pence is None else round(pence / 100, 2)


# -- answers -----------------------------------------------------------------------------
def opportunity_body(
    row: Any, themes: Sequence[tuple[str, str]], areas: Sequence[str], snap: GeographySnapshot,
    now: datetime, soon_days: int,
) -> dict[str, Any]:  # fmt: skip
    """One opportunity as the API shows it (lists and detail alike)."""
    status = (
        "withdrawn"
        if row.withdrawn_at is not None
        else status_of(row.opens_at, row.closes_at, now, soon_days)
    )
    days, words = time_left(row.opens_at, row.closes_at, status, now)
    contact = None
    if row.contact_public and (row.contact_name or row.contact_email):
        contact = {"name": row.contact_name, "email": row.contact_email}
    return {
        "id": row.id,
        "ref": row.ref,
        "title": row.title,
        "funder": {"ref": row.funder_ref, "name": row.funder_name},
        "programme": None
        if row.programme_id is None
        else {"id": row.programme_id, "name": row.programme_name},
        "summary": row.summary,
        "eligibility": row.eligibility,
        "small_org_friendly": bool(row.small_org_friendly),
        "small_org_rule": row.small_org_rule,
        "amount_min": _pounds(row.amount_min_pence),
        "amount_max": _pounds(row.amount_max_pence),
        "total_pot": _pounds(row.total_pot_pence),
        "currency": "GBP",
        "awards_expected": row.awards_expected,
        "opens_at": london(row.opens_at),
        "closes_at": london(row.closes_at),
        "decision_date": None if row.decision_date is None else row.decision_date.isoformat(),
        "grant_length_months": {"min": row.grant_months_min, "max": row.grant_months_max},
        "how_to_apply_url": row.how_to_apply_url,
        "contact": contact,
        "themes": [{"id": t, "name": name} for t, name in themes],
        "areas": [area_ref(snap, code) for code in areas],
        "status": status,
        "days_left": days,
        "time_left": words,
        "demo": bool(row.demo),
        "created_at": row.created_at.isoformat() + "Z",
        "updated_at": row.updated_at.isoformat() + "Z",
        "withdrawn_at": None if row.withdrawn_at is None else row.withdrawn_at.isoformat() + "Z",
        "version": row.version,
        "url": f"{PATH}{row.id}",
    }


def _bodies(
    q: OpportunityQueries, rows: Sequence[Any], snap: GeographySnapshot, now: datetime,
    soon_days: int,
) -> list[dict[str, Any]]:  # fmt: skip
    ids = [r.id for r in rows]
    themes, areas = q.themes_of(ids), q.areas_of(ids)
    return [
        opportunity_body(r, themes.get(r.id, []), areas.get(r.id, []), snap, now, soon_days)
        for r in rows
    ]


def place_codes(
    snap: GeographySnapshot, repo: GeographyRepository, *, area: str | None,
    postcode: str | None,
) -> tuple[list[str] | None, dict[str, Any] | None]:  # fmt: skip
    """The area codes a place matches (it, the areas above it and inside it), and the place
    as the answer names it; (None, None) for no place."""
    if area is not None and postcode is not None:
        raise InvalidInputError(
            "Give area or postcode, not both.", errors={"_query": ["area and postcode"]}
        )
    if area is not None:
        code = resolve_area(snap, area)
        return area_scope(snap, code), {"area": snap.areas[code].ref(), "postcode": None}
    if postcode is not None:
        answer = geography.lookup_postcode(snap, repo, postcode)
        code = (answer["ward"] or answer["borough"])["code"]
        return area_scope(snap, code), {
            "area": snap.areas[code].ref(),
            "postcode": answer["postcode"],
        }
    return None, None


def place_name(place: dict[str, Any] | None) -> str:
    """A feed's place as its title names it: the postcode and its area, the area, or London."""
    if place is None:
        return "London"
    if place["postcode"]:
        return f"{place['postcode']} ({place['area']['name']})"
    return str(place["area"]["name"])


def feed_title(
    what: str, place: dict[str, Any] | None, themes: Sequence[str],
    small_org_friendly: bool | None,
) -> str:  # fmt: skip
    """A feed's title: what it lists, its place, and the filters it was asked with, so
    that two subscriptions read apart in a feed reader or a calendar ("Funding
    opportunities: Lambeth, Violence against women and girls, for small organisations")."""
    names = {t.id: t.name for t in taxonomy_themes()}
    parts = [place_name(place), *(names.get(t, t) for t in dict.fromkeys(themes))]
    if small_org_friendly is not None:
        parts.append(
            "for small organisations"
            if small_org_friendly
            else "not marked for small organisations"
        )
    return f"{what}: {', '.join(parts)}"


def list_opportunities(
    q: OpportunityQueries, snap: GeographySnapshot, repo: GeographyRepository,
    settings: Settings, now: datetime, *, area: str | None = None, postcode: str | None = None,
    themes: Sequence[str] = (), open_on: date | None = None,
    small_org_friendly: bool | None = None, closes_within: int | None = None,
    statuses: Sequence[str] = (), page: int = 1, per_page: int = 50,
) -> dict[str, Any]:  # fmt: skip
    """A page of the opportunities matching every filter given (see the module's
    docstring): those not closed unless ``statuses`` names others; soonest deadline first,
    then closed ones most recent first."""
    check_themes(themes)
    codes, place = place_codes(snap, repo, area=area, postcode=postcode)
    at = _naive(now)
    soon = settings.closing_soon_days
    wanted = tuple(dict.fromkeys(statuses)) or DEFAULT_STATUSES
    f = OpportunityFilter(
        now=at, areas=codes, themes=tuple(themes), small_org_friendly=small_org_friendly,
        open_between=london_day(open_on) if open_on is not None else None,
        closes_before=within_days_end(now, closes_within) if closes_within is not None else None,
        statuses=() if set(wanted) == set(STATUSES) else wanted,
        soon_from=within_days_end(now, soon),
    )  # fmt: skip
    rows, total = q.page(f, offset=(page - 1) * per_page, limit=per_page)
    body = envelope(
        _bodies(q, rows, snap, now, soon), total_items=total, page=page, per_page=per_page
    )
    body["place"] = place
    body["status"] = list(wanted)
    body["closing_soon_days"] = soon
    body["status_rule"] = STATUS_RULE.format(days=soon)
    return body


def history(
    q: OpportunityQueries, events: CatalogueQueries, snap: GeographySnapshot, key: str,
    page: int, per_page: int,
) -> dict[str, Any]:  # fmt: skip
    """Every recorded change to the opportunity (by id or ref), newest first."""
    return catalogue.history(events, snap, "opportunity", find(q, key).id, page, per_page)


def find(q: OpportunityQueries, key: str | int) -> Any:
    """The row of an opportunity by id or ref, or a 404 problem."""
    text = str(key)
    number = as_id(text)
    row = q.by_id(number) if number is not None else None
    row = row or q.by_ref(text)
    if row is None:
        raise OpportunityNotFoundError(f"No funding opportunity has the id or ref {text!r}.")
    return row


def detail(
    q: OpportunityQueries, snap: GeographySnapshot, settings: Settings, now: datetime,
    key: str | int,
) -> dict[str, Any]:  # fmt: skip
    row = find(q, key)
    return _bodies(q, [row], snap, now, settings.closing_soon_days)[0]


# -- feeds -------------------------------------------------------------------------------


def entry_id(ref: str, public_url: str | None) -> str:
    """An opportunity's permanent id: its URL under the public URL (by ref, which a
    reload keeps), else a ``urn:uuid`` of its ref; never from the request's Host."""
    if public_url:
        return f"{public_url}{PATH}{ref}"
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, 'opportunity:' + ref)}"


def _money(item: dict[str, Any]) -> str | None:
    low, high = item["amount_min"], item["amount_max"]
    if low is None and high is None:
        return None
    if low is not None and high is not None and low != high:
        return f"£{low:,.0f} to £{high:,.0f}"
    return f"up to £{high:,.0f}" if low is None else f"£{(high or low):,.0f}"


def _lines(item: dict[str, Any]) -> list[str]:
    lines = [f"{item['title']} ({item['funder']['name']}): {item['time_left']}."]
    if item["summary"]:
        lines.append(item["summary"])
    if (money := _money(item)) is not None:
        lines.append(f"Awards: {money}")
    if item["total_pot"] is not None:
        lines.append(f"Total: £{item['total_pot']:,.0f}")
    months = item["grant_length_months"]
    if months["min"] is not None or months["max"] is not None:
        span = "–".join(str(m) for m in dict.fromkeys((months["min"], months["max"])) if m)
        lines.append(f"Grant length: {span} months")
    if item["small_org_friendly"]:
        lines.append("Small organisations: " + (item["small_org_rule"] or "yes"))
    if item["eligibility"]:
        lines.append(f"Eligibility: {item['eligibility']}")
    lines.append("Areas: " + ", ".join(a["name"] or a["code"] for a in item["areas"]))
    if item["how_to_apply_url"]:
        lines.append(f"How to apply: {item['how_to_apply_url']}")
    return lines


def feed_items(
    q: OpportunityQueries, snap: GeographySnapshot, repo: GeographyRepository,
    settings: Settings, now: datetime, *, area: str | None, postcode: str | None = None,
    themes: Sequence[str] = (), small_org_friendly: bool | None = None,
    since: datetime | None = None, limit: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:  # fmt: skip
    """The opportunities a feed holds (not withdrawn, for the place, an area or a postcode,
    and in the themes; closing after ``since``, or not closed yet), soonest deadline first;
    and the place."""
    check_themes(themes)
    codes, place = place_codes(snap, repo, area=area, postcode=postcode)
    at = _naive(now)
    after = _naive(since) if since is not None else at
    f = OpportunityFilter(now=after, areas=codes, themes=tuple(themes), statuses=DEFAULT_STATUSES,
                          small_org_friendly=small_org_friendly,
                          soon_from=within_days_end(since or now, settings.closing_soon_days))  # fmt: skip
    rows, _total = q.page(f, offset=0, limit=limit)
    return _bodies(q, rows, snap, now, settings.closing_soon_days), place


def atom(
    items: Sequence[dict[str, Any]], *, feed_url: str, base_url: str, title: str,
    feed_name: str, public_url: str | None, data_loaded_at: datetime,
) -> bytes:  # fmt: skip
    """An Atom 1.0 feed (RFC 4287) of opportunities, most recently changed first; ids are
    permanent (:func:`entry_id`), links where this copy was fetched. Its ``updated`` is the
    newest entry's, or with none the data version's time (RFC 4287 §4.2.15)."""
    feed = feeds.feed()
    ordered = sorted(items, key=lambda i: (i["updated_at"], i["id"]), reverse=True)

    feeds.element(feed, "id", feed_id(feed_name, public_url))
    feeds.element(feed, "title", title)
    updated = ordered[0]["updated_at"] if ordered else utc_text(data_loaded_at)
    feeds.element(feed, "updated", updated)
    feeds.element(feed, "link", rel="self", href=feed_url)
    author = feeds.element(feed, "author")
    feeds.element(author, "name", "London Funded Services Directory")
    for item in ordered:
        entry = feeds.element(feed, "entry")
        feeds.element(entry, "id", entry_id(item["ref"], public_url))
        feeds.element(
            entry, "title", f"{item['title']} ({item['funder']['name']}): {item['time_left']}"
        )
        feeds.element(entry, "updated", item["updated_at"])
        feeds.element(entry, "published", item["created_at"])
        feeds.element(
            entry, "link", rel="alternate", href=item["how_to_apply_url"] or base_url + item["url"]
        )
        feeds.element(
            entry, "link", rel="related", href=base_url + item["url"], type="application/json"
        )
        feeds.element(entry, "content", "\n".join(_lines(item)), type="text")
        feeds.element(entry, "category", term=item["status"])
        for theme in item["themes"]:
            feeds.element(entry, "category", term=theme["id"], label=theme["name"])
    return feeds.document(feed)


def feed_id(feed_name: str, public_url: str | None) -> str:
    """The feed's permanent id, from its query (as the change feed's)."""
    if public_url:
        return f"{public_url}/api/v1/opportunities.atom#{feed_name}"
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, 'opportunities-feed:' + feed_name)}"


def calendar(
    items: Sequence[dict[str, Any]], rows_updated: dict[int, datetime], *, title: str,
    base_url: str,
) -> bytes:  # fmt: skip
    """An iCalendar (RFC 5545) feed a calendar app subscribes to: one event at each
    deadline and one at each opening, in Europe/London (its VTIMEZONE included), with
    UIDs made from the ref (the same event on every fetch, whoever serves it)."""
    import icalendar  # here: its 80 modules (3 MB a worker) only where calendars are asked

    cal = icalendar.Calendar()
    cal.add("prodid", "-//London Funded Services Directory//Funding opportunities//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", title)
    cal.add("x-wr-timezone", "Europe/London")
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")
    first = None
    for item in items:
        stamp = rows_updated[item["id"]].replace(tzinfo=UTC)
        url = item["how_to_apply_url"] or base_url + item["url"]
        description = "\n".join([*_lines(item), f"Details: {base_url}{item['url']}"])
        moments = [("closes", "Deadline", item["closes_at"])]
        if item["opens_at"] is not None:
            moments.append(("opens", "Opens", item["opens_at"]))
        for kind, word, iso in moments:
            start = datetime.fromisoformat(iso).astimezone(LONDON_TZ)
            first = min(first or start.date(), start.date())
            event = icalendar.Event()
            event.add("uid", f"{item['ref']}-{kind}@{UID_DOMAIN}")
            event.add("dtstamp", stamp)
            event.add("last-modified", stamp)
            event.add("dtstart", start)
            event.add("summary", f"{word}: {item['title']} ({item['funder']['name']})")
            event.add("description", description)
            event.add("url", url)
            event.add("categories", [item["status"], *(t["id"] for t in item["themes"])])
            event.add("transp", "TRANSPARENT")
            cal.add_component(event)
    if first is not None:
        cal.add_missing_timezones(first_date=date(first.year - 1, 1, 1), last_date=date(2038, 1, 1))
    return cal.to_ical()


def calendar_items(
    q: OpportunityQueries, snap: GeographySnapshot, repo: GeographyRepository,
    settings: Settings, now: datetime, *, area: str | None, themes: Sequence[str],
    postcode: str | None = None, small_org_friendly: bool | None = None,
) -> tuple[list[dict[str, Any]], dict[int, datetime], dict[str, Any] | None]:  # fmt: skip
    """The opportunities of the iCalendar feed: not withdrawn, for the place (an area or a
    postcode) and in the themes, closing after a year ago; with each one's last change (its
    events' DTSTAMP)."""
    check_themes(themes)
    codes, place = place_codes(snap, repo, area=area, postcode=postcode)
    f = OpportunityFilter(now=_naive(now), areas=codes, themes=tuple(themes),
                          small_org_friendly=small_org_friendly,
                          open_between=(_naive(now - CALENDAR_PAST), datetime(9999, 1, 1)))  # fmt: skip
    rows, _total = q.page(f, offset=0, limit=None)
    return (
        _bodies(q, rows, snap, now, settings.closing_soon_days),
        {r.id: r.updated_at for r in rows},
        place,
    )


# -- the patch ---------------------------------------------------------------------------
def patch_opportunities(
    candidates: Sequence[dict[str, Any]], now: datetime, soon_days: int, all_url: str
) -> dict[str, Any]:
    """The open (and closing soon) opportunities of a patch, soonest deadline first, from
    the patch index's candidates (every opportunity naming one of the patch's areas, not
    closed when the index was built), with the time left."""
    listed = []
    for c in candidates:
        status = status_of(c["_opens"], c["_closes"], now, soon_days)
        if status in ("open", "closing_soon"):
            days, words = time_left(c["_opens"], c["_closes"], status, now)
            item = {k: v for k, v in c.items() if not k.startswith("_")}
            listed.append({**item, "status": status, "days_left": days, "time_left": words})
    return {
        "total": len(listed),
        "contents": listed[:PATCH_LIMIT],
        "closing_soon_days": soon_days,
        "all_url": all_url,
    }


def patch_candidate(row: Any, scope: str) -> dict[str, Any]:
    """An opportunity as the patch index keeps it (its status is worked out per request)."""
    return {
        "id": row.id,
        "ref": row.ref,
        "title": row.title,
        "funder": row.funder_name,
        "scope": scope,
        "small_org_friendly": bool(row.small_org_friendly),
        "amount_min": _pounds(row.amount_min_pence),
        "amount_max": _pounds(row.amount_max_pence),
        "opens_at": london(row.opens_at),
        "closes_at": london(row.closes_at),
        "how_to_apply_url": row.how_to_apply_url,
        "url": f"{PATH}{row.id}",
        "demo": bool(row.demo),
        "_opens": row.opens_at,
        "_closes": row.closes_at,
    }


def changes_today(candidates: Sequence[dict[str, Any]], now: datetime, soon_days: int) -> bool:
    """Whether a candidate's status changes during the UTC day of ``now`` (an answer
    listing it may change within the day, so its ETag must hash its body)."""
    at = _naive(now)
    start = datetime.combine(at.date(), time())
    end = start + timedelta(days=1)
    for c in candidates:
        for moment in (c["_opens"], c["_closes"], soon_starts(c["_closes"], soon_days)):
            if moment is not None and start <= moment < end:
                return True
    return False


# -- writes ------------------------------------------------------------------------------
def _invalid(problems: Sequence[Any]) -> InvalidInputError:
    errors: dict[str, list[str]] = {}
    for p in problems:
        errors.setdefault(p.column or "_body", []).append(p.message)
    return InvalidInputError(
        "The opportunity has invalid values: "
        + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
        errors=errors,
    )


def record_from(values: dict[str, Any], snap: GeographySnapshot) -> OpportunityRecord:
    """An OpportunityRecord from a write's validated values (areas by code or name)."""
    areas: list[str] = []
    bad: list[str] = []
    for text in values.get("areas") or []:
        try:
            areas.append(resolve_area(snap, text))
        except AreaNotFoundError:  # reported as a field error, with the others
            bad.append(text)
    if bad:
        raise InvalidInputError(
            f"Unknown areas: {', '.join(map(repr, bad))} (codes or names, see /api/v1/areas?q=).",
            errors={"areas": [f"unknown area {b!r}" for b in bad]},
        )
    funder = values.get("funder") or {}
    # money as the Opportunities sheet's cells are read: to the penny, less than one refused
    money: dict[str, Decimal | None] = {}
    for name in ("amount_min", "amount_max", "total_pot"):
        try:
            money[name] = None if values.get(name) is None else parse_amount(values[name])
        except ValueError as error:
            raise _invalid([Problem(str(error), None, name)]) from None
    months = values.get("grant_length_months") or {}
    contact = values.get("contact") or {}
    # text as the Opportunities sheet's cells are read: whitespace runs (tabs, new lines)
    # made one space, the ends stripped, a blank value none
    title, funder_name = clean_text(values.get("title")), clean_text(funder.get("name"))
    blank = [Problem("Must not be blank.", None, name)
             for name, value in (("title", title), ("funder.name", funder_name)) if not value]  # fmt: skip
    if blank:
        raise _invalid(blank)
    return OpportunityRecord(
        ref=values["ref"], title=title or "", funder_name=funder_name or "",
        funder_ref=clean_text(funder.get("ref")), closes_at=values["closes_at"],
        programme=values.get("programme"), summary=clean_text(values.get("summary")),
        eligibility=clean_text(values.get("eligibility")),
        small_org_friendly=bool(values.get("small_org_friendly")),
        small_org_rule=clean_text(values.get("small_org_rule")), **money,
        awards_expected=values.get("awards_expected"), opens_at=values.get("opens_at"),
        decision_date=values.get("decision_date"), grant_months_min=months.get("min"),
        grant_months_max=months.get("max"), how_to_apply_url=values.get("how_to_apply_url"),
        contact_name=clean_text(contact.get("name")), contact_email=contact.get("email"),
        contact_public=bool(values.get("contact_public")), themes=list(values.get("themes") or []),
        areas=areas, demo=bool(values.get("demo")),
    )  # fmt: skip


def as_values(body: dict[str, Any], row: Any) -> dict[str, Any]:
    """A held opportunity as the values a write takes (for a PATCH to change some of)."""
    return {
        "ref": body["ref"], "title": body["title"],
        "funder": {"name": body["funder"]["name"], "ref": body["funder"]["ref"]},
        "programme": body["programme"]["id"] if body["programme"] else None,
        "summary": body["summary"], "eligibility": body["eligibility"],
        "small_org_friendly": body["small_org_friendly"], "small_org_rule": body["small_org_rule"],
        "amount_min": body["amount_min"], "amount_max": body["amount_max"],
        "total_pot": body["total_pot"], "awards_expected": body["awards_expected"],
        "opens_at": None if row.opens_at is None else row.opens_at.replace(tzinfo=UTC),
        "closes_at": row.closes_at.replace(tzinfo=UTC),
        "decision_date": row.decision_date, "grant_length_months": body["grant_length_months"],
        "how_to_apply_url": body["how_to_apply_url"],
        "contact": {"name": row.contact_name, "email": row.contact_email},
        "contact_public": bool(row.contact_public),
        "themes": [t["id"] for t in body["themes"]], "areas": [a["code"] for a in body["areas"]],
        "demo": body["demo"],
    }  # fmt: skip


def _save(
    session: Any, snap: GeographySnapshot, record: OpportunityRecord, principal: Principal,
    at: datetime, label: str,
) -> int:  # fmt: skip
    repo = OpportunityRepository(session)
    problems = writer.check(
        record, themes=repo.known_themes(), areas=set(snap.areas), programmes=repo.programme_ids()
    )
    if problems:
        raise _invalid(problems)
    written = writer.write(
        repo, [record], source="api", at=at, actor=principal.name, keep_owner=True
    )  # (an edit leaves an imported opportunity with its source, as a service's)
    if written.events:
        directory = DirectoryRepository(session)
        directory.add_events(written.events)
        directory.add_data_release(
            label=f"{label} {record.ref} by {principal.name}", checksum="api",
            details={"opportunity": record.ref, "actor": principal.name}, at=at,
        )  # fmt: skip
    return written.ids[record.ref]


def _now_naive(now: datetime) -> datetime:
    return _naive(now).replace(microsecond=0)


def create(
    db: Database, geography: GeographyCache, settings: Settings, principal: Principal,
    values: dict[str, Any], now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Add an opportunity (an officer's or admin's key); a ref already held is a 409. Its
    areas are checked by the geography the database holds once the write lock is taken,
    not by the worker's snapshot (as every write's: ``directory.usecases.writes``)."""
    with write_locked(db), db.session() as session:
        snap = geography.current_of(db)
        record = record_from(values, snap)
        if OpportunityQueries(session).by_ref(record.ref) is not None:
            raise OpportunityExistsError(
                f"An opportunity with the ref {record.ref!r} exists already: PATCH it instead."
            )
        oid = _save(session, snap, record, principal, _now_naive(now), "opportunity added:")
    with db.engine.connect() as connection:
        return detail(OpportunityQueries(connection), snap, settings, now, oid)


def update(
    db: Database, geography: GeographyCache, settings: Settings, principal: Principal,
    key: str, changes: dict[str, Any], now: datetime, check: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:  # fmt: skip
    """Change some of an opportunity's values. ``check`` is given its current
    representation, read in this transaction, first (the If-Match precondition); a
    withdrawn opportunity changed is restored. Checked by the geography the database holds
    under the write lock (as :func:`create`)."""
    with write_locked(db), db.session() as session:
        snap = geography.current_of(db)
        q = OpportunityQueries(session)
        row = find(q, key)
        body = _bodies(q, [row], snap, now, settings.closing_soon_days)[0]
        check(body)
        values = as_values(body, row)
        for name, value in changes.items():
            if isinstance(value, dict) and isinstance(values.get(name), dict):
                values[name] = {**values[name], **value}
            else:
                values[name] = value
        values["ref"] = row.ref
        oid = _save(session, snap, record_from(values, snap), principal, _now_naive(now),
                    "opportunity changed:")  # fmt: skip
    with db.engine.connect() as connection:
        return detail(OpportunityQueries(connection), snap, settings, now, oid)


def withdraw(
    db: Database,
    snap: GeographySnapshot,
    settings: Settings,
    principal: Principal,
    key: str,
    now: datetime,
    check: Callable[[dict[str, Any]], None],
) -> None:
    """Withdraw an opportunity (it leaves the lists and feeds; its record stays, with a
    change event). Withdrawing a withdrawn one changes nothing."""
    at = _now_naive(now)
    with write_locked(db), db.session() as session:
        repo = OpportunityRepository(session)
        row = find(repo, key)
        check(_bodies(repo, [row], snap, now, settings.closing_soon_days)[0])
        if row.withdrawn_at is not None:
            return
        repo.withdraw([row.id], at)
        directory = DirectoryRepository(session)
        directory.add_events([{
            "import_run_id": None, "at": at, "entity": "opportunity", "entity_id": row.id,
            "entity_ref": row.ref, "action": "withdrawn", "changes": {},
            "summary": f"Opportunity '{row.title}' withdrawn by {principal.name}"[:500],
            "areas": set(repo.areas_of([row.id]).get(row.id, [])), "actor": principal.name,
        }])  # fmt: skip
        directory.add_data_release(
            label=f"opportunity withdrawn: {row.ref} by {principal.name}", checksum="api",
            details={"opportunity": row.ref, "actor": principal.name}, at=at,
        )  # fmt: skip
