"""The change feed: what changed in a patch, newest first, as JSON or Atom.

Two kinds of entry are merged: the change events every import records (service added,
details changed, withdrawn, restored; the same for grants, organisations, outcomes and
contacts), and entries derived from grant dates on the day of asking (grant started, grant
ending within N days, grant ended), which no import records because nothing was imported.
No Flask here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from directory.store.repositories.directory import CatalogueQueries
from directory.usecases import feeds
from directory.usecases.catalogue import area_ref
from directory.usecases.geography import GeographySnapshot, area_scope, resolve_area
from directory.usecases.pagination import envelope
from directory.usecases.search import utc_naive
from directory.usecases.times import utc_text
from directory.usecases.vocabulary import check_themes
from geodata.postcodes import spaced_form

FEED_LIMIT = 100


def _at(day: date) -> datetime:
    return datetime.combine(day, time())


def _grant_entries(
    rows: list[Any], today: date, ending_within: int, since: datetime | None, areas: dict[int, list[str]],
    snap: GeographySnapshot,
) -> list[dict[str, Any]]:  # fmt: skip
    entries = []
    for g in rows:
        what = g.title or f"{g.funder_name} → {g.recipient_name}"
        amount = "" if g.amount_pence is None else f" (£{g.amount_pence / 100:,.0f})"
        base = {
            "entity": "grant",
            "entity_id": g.id,
            "entity_ref": g.ref,
            "changes": {},
            "areas": [area_ref(snap, c) for c in areas.get(g.id, [])],
            "import_run": None,
            "actor": None,
            "url": f"/api/v1/grants/{g.id}",
        }
        if g.start is not None and g.start <= today:
            entries.append({**base, "id": f"grant-{g.id}-started", "at": _at(g.start), "action": "grant_started",
                            "summary": f"Grant started: {what}{amount}, {g.start.isoformat()}"})  # fmt: skip
        if g.end is not None:
            warn_from = g.end - timedelta(days=ending_within)
            if warn_from <= today <= g.end:
                entries.append({**base, "id": f"grant-{g.id}-ending", "at": _at(max(warn_from, g.start or warn_from)),
                                "action": "grant_ending",
                                "summary": f"Grant ending {g.end.isoformat()}: {what}{amount}"})  # fmt: skip
            if g.end < today:
                ended = g.end + timedelta(days=1)
                entries.append({**base, "id": f"grant-{g.id}-ended", "at": _at(ended), "action": "grant_ended",
                                "summary": f"Grant ended {g.end.isoformat()}: {what}{amount}"})  # fmt: skip
    return [e for e in entries if since is None or e["at"] >= since]


def changes(
    q: CatalogueQueries, snap: GeographySnapshot, today: date, *, since: datetime | None,
    area: str | None, theme: str | None, entity: str | None, ending_within: int,
    page: int, per_page: int, import_run: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Change entries affecting the patch, newest first, paged with the envelope; with
    ``import_run``, the events that run recorded alone (no grant's dates are a run's)."""
    if theme is not None:
        check_themes([theme])
    if since is not None:
        since = utc_naive(since, "since")
    code = resolve_area(snap, area) if area is not None else None
    codes = area_scope(snap, code) if code is not None else None
    wanted = page * per_page
    rows, stored_total = q.events(
        since=since, areas=codes, theme=theme, entity=entity, limit=wanted, import_run=import_run
    )
    event_areas = q.event_areas([r.id for r in rows])
    named: dict[str, set[int]] = {entity: set() for entity in _PATHS}
    for r in rows:
        if r.entity in _PATHS:
            named[r.entity].add(r.entity_id)
    held = q.existing_ids(named)  # a record taken out (demo remove) has no URL any more
    stored = [
        {
            "id": f"event-{r.id}",
            "at": r.at,
            "entity": r.entity,
            "entity_id": r.entity_id,
            "entity_ref": r.entity_ref,
            "action": r.action,
            "summary": r.summary,
            "changes": {k: {"old": v[0], "new": v[1]} for k, v in r.changes.items()},
            "areas": [area_ref(snap, c) for c in event_areas[r.id]],
            "import_run": r.import_run_id,
            "actor": r.actor,
            "url": _url(r.entity, r.entity_id) if r.entity_id in held.get(r.entity, ()) else None,
        }
        for r in rows
    ]
    derived: list[dict[str, Any]] = []
    if entity in (None, "grant") and import_run is None:
        grants = q.dated_grants(areas=codes, theme=theme)
        derived = _grant_entries(
            grants, today, ending_within, since, q.grant_areas([g.id for g in grants]), snap
        )
    # newest first; at the same second, stored events by their order of recording
    merged = sorted(
        stored + derived,
        key=lambda e: (e["at"], e["id"].startswith("event-"), int(e["id"].split("-")[1])),
        reverse=True,
    )
    chosen = merged[(page - 1) * per_page : page * per_page]
    for entry in chosen:
        entry["at"] = entry["at"].isoformat() + "Z"
    body = envelope(chosen, total_items=stored_total + len(derived), page=page, per_page=per_page)
    body["area"] = area_ref(snap, code) if code is not None else None
    return body


_PATHS = {
    "service": "services", "grant": "grants", "organisation": "organisations",
    "opportunity": "opportunities",
}  # fmt: skip


def _url(entity: str, entity_id: int) -> str | None:
    path = _PATHS.get(entity)
    return f"/api/v1/{path}/{entity_id}" if path else None


#: the namespace the feed's and entries' permanent ids are made in when no public URL is
#: configured (uuid5 of the project's name)
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/london-funded-services-directory")


def atom_id(name: str, public_url: str | None) -> str:
    """A permanent id for the feed or an entry (RFC 4287 §4.2.6): never built from the
    request's Host header, so the same change keeps its id however it is fetched. Under
    the configured public URL when there is one, else a ``urn:uuid`` of the name."""
    if public_url:
        return f"{public_url}/api/v1/changes#{name}"
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, name)}"


def atom(
    body: dict[str, Any], *, feed_url: str, base_url: str, title: str, feed_name: str,
    data_loaded_at: datetime, public_url: str | None = None,
    snap: GeographySnapshot | None = None,
) -> bytes:  # fmt: skip
    """An Atom 1.0 feed (RFC 4287) of change entries. ``feed_url`` and ``base_url`` make the
    links (where this copy was fetched); the ids come from ``feed_name``, each entry's id
    and ``public_url`` only (:func:`atom_id`). The feed's ``updated`` is its newest entry's
    time, or with none the data version's (``data_loaded_at``): when what it says was last
    made, as RFC 4287 §4.2.15 asks. Each entry's content is plain text a person reads in a
    mail client or feed reader (:func:`change_lines`), its areas named from ``snap``; the
    JSON answer keeps the values as recorded, for programs."""

    def area_name(code: str) -> str | None:
        area = snap.areas.get(code) if snap is not None else None
        return area.name if area is not None else None

    feed = feeds.feed()
    entries = body["contents"]
    updated = entries[0]["at"] if entries else utc_text(data_loaded_at)

    feeds.element(feed, "id", atom_id(feed_name, public_url))
    feeds.element(feed, "title", title)
    feeds.element(feed, "updated", updated)
    feeds.element(feed, "link", rel="self", href=feed_url)
    author = feeds.element(feed, "author")
    feeds.element(author, "name", "London Funded Services Directory")
    for entry in entries:
        item = feeds.element(feed, "entry")
        feeds.element(item, "id", atom_id(entry["id"], public_url))
        feeds.element(item, "title", entry["summary"])
        feeds.element(item, "updated", entry["at"])
        if entry.get("actor"):  # who made it over the API (the key's name)
            feeds.element(feeds.element(item, "author"), "name", entry["actor"])
        if entry.get("url"):
            feeds.element(item, "link", rel="alternate", href=base_url + entry["url"])
        lines = [entry["summary"]]
        for name, change in entry["changes"].items():
            lines += change_lines(name, change["old"], change["new"], area_name)
        if entry["areas"]:
            lines.append("Areas: " + ", ".join(a["name"] or a["code"] for a in entry["areas"]))
        feeds.element(item, "content", "\n".join(str(line) for line in lines), type="text")
        feeds.element(item, "category", term=entry["action"])
    return feeds.document(feed)


# -- a change in words ----------------------------------------------------------------------
#: a site's fields as a change names them, in the order a reader wants them
_SITE_FIELDS = ("name", "address", "postcode", "ward_code", "borough_code", "demo")
_SITE_LABELS = {"ward_code": "ward", "borough_code": "borough"}
#: fields whose values are area codes, shown by name
_AREA_FIELDS = frozenset({"coverage", "areas"})


def change_lines(
    name: str, old: Any, new: Any, area_name: Callable[[str], str | None]
) -> list[str]:
    """One recorded field's change (``old`` → ``new``, as the JSON answer gives them) as
    lines of plain text for a person: a service's sites as the sites added, removed and
    changed (each by ref, with its address and postcode, its ward and borough by name where
    the geography knows them), a list as its values separated by commas, nothing as
    "none", a yes-or-no field as yes or no. Never Python's own spelling of a value (a
    SPOC's feed reader showed ``locations: [{'ref': …}] → [...]``)."""
    if name == "locations" and _sites(old) and _sites(new):
        return _site_lines(old or [], new or [], area_name)
    if name in _AREA_FIELDS:
        old, new = _area_names(old, area_name), _area_names(new, area_name)
    return [f"{name}: {_words(old)} → {_words(new)}"]


def _sites(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(s, dict) for s in value))


def _area_names(value: Any, area_name: Callable[[str], str | None]) -> Any:
    if not isinstance(value, list):
        return value
    return [area_name(c) or c if isinstance(c, str) else c for c in value]


def _words(value: Any) -> str:
    """A recorded value in words."""
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_words(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_words(v)}" for k, v in value.items())
    return str(value)


def _site_lines(
    old: list[dict[str, Any]], new: list[dict[str, Any]], area_name: Callable[[str], str | None]
) -> list[str]:
    before = {str(s.get("ref")): s for s in old}
    after = {str(s.get("ref")): s for s in new}
    lines = [f"Site added: {_site(after[ref], area_name)}" for ref in after if ref not in before]
    lines += [
        f"Site removed: {_site(before[ref], area_name)}" for ref in before if ref not in after
    ]
    for ref, now in after.items():
        was = before.get(ref)
        if was is None or was == now:
            continue
        what = [
            f"{_SITE_LABELS.get(f, f)} {_site_value(was, f, area_name)} → "
            f"{_site_value(now, f, area_name)}"
            for f in _SITE_FIELDS
            # (a site recorded before its ward and borough were: nothing said of them)
            if f in was and f in now and was[f] != now[f]
        ]
        if (was.get("lat"), was.get("lon")) != (now.get("lat"), now.get("lon")):
            what.append(f"map point {_point(was)} → {_point(now)}")
        lines.append(f"Site changed: {_site(now, area_name)}: {'; '.join(what)}")
    return lines


def _site(site: dict[str, Any], area_name: Callable[[str], str | None]) -> str:
    """A site in words: its ref, then its name, address, postcode, ward and borough (those
    it has; a site recorded before its places were is said without them)."""
    postcode = site.get("postcode")
    parts = [site.get("name"), site.get("address"), postcode and spaced_form(postcode)]
    if site.get("borough_code"):
        if site.get("ward_code"):
            parts.append(_site_value(site, "ward_code", area_name))
        parts.append(_site_value(site, "borough_code", area_name))
    elif "borough_code" in site and site.get("lat") is not None:
        parts.append("outside London")  # (a site with no point is placed nowhere)
    said = ", ".join(str(p) for p in parts if p)
    return f"{site.get('ref')} ({said})" if said else str(site.get("ref"))


def _site_value(site: dict[str, Any], field: str, area_name: Callable[[str], str | None]) -> str:
    value = site.get(field)
    if field in ("ward_code", "borough_code") and isinstance(value, str):
        return area_name(value) or value
    if field == "postcode" and isinstance(value, str):
        return spaced_form(value)  # (held canonical: "KT11EU")
    return _words(value)


def _point(site: dict[str, Any]) -> str:
    lat, lon = site.get("lat"), site.get("lon")
    return "none" if lat is None or lon is None else f"{lat}, {lon}"
