"""The patch answer: the services that serve a place, why each is there (strongest first),
the money going into it and who to talk to; and a caseload of postcodes at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

import numpy as np
import orjson

from directory.errors import AnswerTooLargeError, InvalidInputError
from directory.ingest.values import add_months
from directory.settings import Settings
from directory.store.repositories.geography import (
    GeographyRepository,
)
from directory.store.repositories.search import SearchQueries
from directory.store.words import query_terms
from directory.usecases import geography, opportunities
from directory.usecases.catalogue import grant_flags, is_live, live_between
from directory.usecases.catalogue import iso as _iso
from directory.usecases.facts import GrantFact
from directory.usecases.funding.awards import ALL_PROGRAMMES_RULE, community_safety_rule_text
from directory.usecases.funding.headline import (
    LISTED_LEVELS,
    HeadlineGroup,
    equal_share,
    headline_answer,
    scopes_present,
)
from directory.usecases.geography import GeographySnapshot
from directory.usecases.pagination import envelope
from directory.usecases.patch.index import (
    DEFAULT_RADIUS_M,
    KEPT_DICT,
    KEPT_ENTRY,
    MAX_RADIUS_M,
    DirectoryIndex,
)
from directory.usecases.patch.matching import (
    Matching,
    NearbySites,
    pass_mask,
    passes,
)
from directory.usecases.patch.money import Classify, reaching
from directory.usecases.patch.places import Coverage, Place, place_for_areas
from directory.usecases.shared import (
    KEPT_JSON_OVERHEAD,
    Extended,
    Joined,
    Shared,
    Spliced,
    compact,
    encode,
    kept_json,
    members_json,
)
from directory.usecases.vocabulary import check_themes, unknown_programme


@dataclass(frozen=True)
class PatchFilters:
    themes: tuple[str, ...] = ()
    programme: str | None = None
    status: str | None = "active"  # None: any status
    live_on: date | None = None
    q: str | None = None
    radius: float = DEFAULT_RADIUS_M
    #: the funding summary counts every programme, not only community-safety ones
    include_other_programmes: bool = False

    def check(self) -> None:
        if self.themes:  # (most patches ask for none)
            check_themes(self.themes)
        if not 0 < self.radius <= MAX_RADIUS_M:
            raise InvalidInputError(
                f"radius must be between 1 and {MAX_RADIUS_M} metres.",
                errors={"radius": [f"1 to {MAX_RADIUS_M}"]},
            )


def _check_programme(index: DirectoryIndex, filters: PatchFilters) -> None:
    """An unknown programme id is a 404 problem, as on /grants and /services, not an empty
    patch."""
    if filters.programme is not None and filters.programme not in index.programme_ids:
        raise unknown_programme(filters.programme, dict.fromkeys(index.programme_ids))


def _matching(
    index: DirectoryIndex, snap: GeographySnapshot, place: Place, filters: PatchFilters
) -> Matching:
    """What is in the patch: the lists of its areas that pass the filters (kept, shared by
    every postcode in a ward), plus the sites near its point that pass them."""
    filters.check()
    _check_programme(index, filters)
    return Matching(index, snap, place, filters, nearby_sites(index, place, filters))


def nearby_sites(index: DirectoryIndex, place: Place, filters: PatchFilters) -> NearbySites:
    """The services with a site within the radius of the place's point (none for a place
    without one) that pass the filters, each with its nearest site."""
    if place.point is None or index.grid.none_near(*place.point, filters.radius):
        return NearbySites.none()  # most points in a directory of London's size
    if not filters.q:
        passing = pass_mask(index, filters)
        return NearbySites(index.grid, *index.grid.nearest(*place.point, filters.radius, passing))
    services, metres, at = index.grid.nearest(*place.point, filters.radius)
    terms = query_terms(filters.q)
    known, day = index.services, index.day
    keep = np.fromiter(
        (
            (service := known.get(sid)) is not None and passes(service, filters, terms, day)
            for sid in services.tolist()
        ),
        dtype=bool,
        count=len(services),
    )
    return NearbySites(index.grid, services[keep], metres[keep], at[keep])


def patch(
    index: DirectoryIndex, snap: GeographySnapshot, place: Place, filters: PatchFilters,
    today: date, *, page: int, per_page: int, now: datetime | None = None,
) -> Mapping[str, Any]:  # fmt: skip
    """Every service that serves the place, labelled with why, plus funding, contacts and
    the funding opportunities open for it (at ``now``, default noon UTC of ``today``).

    With nothing nearby (an area's patch, or a point with no site near it: most of
    London's postcodes in a directory of its size) and no opportunity changing status
    today, everything but the place's own geography is the same for every patch of the
    place that day, so it is kept by (areas, filters, page, days), as JSON: the answer is
    the place's geography spliced with it (:class:`Spliced`), read as a mapping if need
    be."""
    moment = now or datetime.combine(today, time(12), UTC)
    filters.check()
    _check_programme(index, filters)
    nearby = nearby_sites(index, place, filters)
    if nearby or opportunities_change_today(index, place, moment):
        rest = _rest(index, snap, place, filters, nearby, today, moment, page, per_page)
        return {**place.geography, **rest}
    areas = (place.coverage.key, tuple(place.site_areas))
    key = ("rest", *areas, filters, page, per_page, today, *_days(moment))
    kept = index.patch_entries.get(key)
    if kept is None:
        rest = _rest(index, snap, place, filters, nearby, today, moment, page, per_page)
        try:
            kept = members_json(rest)
        except orjson.JSONEncodeError:  # text orjson cannot write (in q): the writer escapes it
            return {**place.geography, **rest}
        # its own JSON, the page's included (the shared parts are kept, and counted, apart)
        index.patch_entries.keep(key, kept, KEPT_ENTRY + KEPT_DICT + kept.own)
    return Spliced(place.geography, kept)


def _rest(
    index: DirectoryIndex, snap: GeographySnapshot, place: Place, filters: PatchFilters,
    nearby: NearbySites, today: date, moment: datetime, page: int, per_page: int,
) -> dict[str, Any]:  # fmt: skip
    """A patch's answer after the place's geography."""
    matches = Matching(index, snap, place, filters, nearby)
    counts = matches.counts
    contents = matches.page(matches.ordered((page - 1) * per_page, page * per_page))
    return {
        "filters": _filters_answer(filters, place.point is not None),
        "counts": counts,
        "funding": funding_summary(
            index, snap, place, filters.live_on or today, filters.include_other_programmes
        ),
        "awards": patch_awards(index, snap, place, filters.live_on or today, filters),
        "contacts": patch_contacts(index, place.coverage),
        "opportunities": _opportunities_answer(index, place, moment),
        "services": envelope(
            contents, total_items=counts["services"], page=page, per_page=per_page
        ),
        "sort": "relation (site nearby, site in area, ward, part of area, borough, BCU, London), then distance, then name",
    }


def warm_wards(index: DirectoryIndex, snap: GeographySnapshot, today: date) -> int:
    """Make, for every ward, what the first patch by postcode there would make and keep:
    its areas' lists and counts, funding summary, awards, opportunities and contacts, for
    the filters a patch has by default. Serving builds the index in the background (and a
    worker's first), so this happens there rather than in a request: at 100,000 services
    a ward's first patch cost about 4 ms more than the next, 700 wards a worker (1.4-2.0 s
    for them all, and the parts fit in their caches: ``CACHE_SHARES``). Returns the
    number of wards."""
    filters = PatchFilters()
    warmed = 0
    for area in list(snap.areas.values()):
        borough = snap.areas.get(area.parent_code) if area.type == "ward" else None
        if borough is None or borough.type != "borough":
            continue
        place = place_for_areas({}, borough.code, area.code, snap, None)
        _matching(index, snap, place, filters).prepare()
        funding_summary(index, snap, place, today)
        patch_awards(index, snap, place, today, filters)
        opportunity_candidates(index, place)
        patch_contacts(index, place.coverage)
        warmed += 1
    pass_mask(index, filters)
    return warmed


#: the patch's relations an opportunity's area may have, as the answer names them
OPPORTUNITY_SCOPES = {
    "serves_ward": "ward", "serves_part": "inside", "serves_borough": "borough",
    "serves_bcu": "bcu", "serves_london": "london",
}  # fmt: skip


def _soon_days(index: DirectoryIndex) -> int:
    return index.settings.closing_soon_days if index.settings is not None else 14


def opportunity_candidates(index: DirectoryIndex, place: Place) -> list[dict[str, Any]]:
    """The opportunities naming one of the patch's areas (each with the most local of them
    as its ``scope``), soonest deadline first; kept per areas."""
    key = place.coverage.key
    found = index.opportunity_lists.get(key)
    if found is None:
        seen: dict[int, dict[str, Any]] = {}
        for relation, codes in place.coverage.relations.items():
            scope = OPPORTUNITY_SCOPES.get(relation)
            for code in codes if scope else ():
                for candidate in index.opportunities_by_area.get(code, ()):
                    if candidate["id"] not in seen:
                        seen[candidate["id"]] = {**candidate, "scope": scope}
        found = sorted(seen.values(), key=lambda c: (c["_closes"], c["id"]))
        index.opportunity_lists.keep(key, found, KEPT_ENTRY + KEPT_DICT * len(found))
    return found


def opportunities_change_today(index: DirectoryIndex, place: Place, now: datetime) -> bool:
    """Whether the patch's opportunities change status during today (UTC): its answer may
    then change within the day, so its ETag hashes the body rather than the day. Kept by
    (areas, day)."""
    soon = _soon_days(index)
    key = ("changes", place.coverage.key, soon, now.astimezone(UTC).date())
    found = index.opportunity_lists.get(key)
    if found is None:
        candidates = opportunity_candidates(index, place)
        found = opportunities.changes_today(candidates, now, soon)
        index.opportunity_lists.keep(key, found, KEPT_ENTRY)
    return bool(found)


def _opportunities_answer(index: DirectoryIndex, place: Place, now: datetime) -> Any:
    """The patch's open opportunities at ``now``, with the time left. Unless one of them
    changes status during the UTC day, the answer is the same all that day and London day
    (the days left are London's), so it is kept by (areas, both days); else made afresh."""
    soon = _soon_days(index)

    def made() -> dict[str, Any]:
        candidates = opportunity_candidates(index, place)
        url = _opportunities_url(_patch_area(place))
        return opportunities.patch_opportunities(candidates, now, soon, url)

    if opportunities_change_today(index, place, now):
        return made()
    key = ("answer", place.coverage.key, soon, *_days(now))
    found = index.opportunity_lists.get(key)
    if found is None:
        found = Shared(made())
        index.opportunity_lists.keep(key, found, kept_json(found))
    return found


@functools.lru_cache(maxsize=1024)
def _filters_answer(filters: PatchFilters, by_point: bool) -> dict[str, Any]:
    """The filters as the answer echoes them (shared: never changed)."""
    return {
        "theme": list(filters.themes),
        "programme": filters.programme,
        "status": filters.status or "any",
        "live_on": _iso(filters.live_on),
        "q": filters.q,
        "radius_m": filters.radius if by_point else None,
        "include_other_programmes": filters.include_other_programmes,
    }


def patch_contacts(index: DirectoryIndex, coverage: Coverage) -> list[dict[str, Any]]:
    """The contacts of a patch's areas (borough SPOC, SNB chair, BCU lead), once per areas."""
    contacts = index.contacts_cache.get(coverage.key)
    if contacts is None:
        contacts = index.contacts_cache[coverage.key] = [
            c for code in coverage.codes for c in index.contacts_by_area.get(code, ())
        ]
    return contacts


def funding_summary(
    index: DirectoryIndex, snap: GeographySnapshot, place: Place, day: date,
    all_programmes: bool = False,
) -> Shared:  # fmt: skip
    key = (day, place.coverage.key, all_programmes)
    summary = index.funding_cache.get(key)
    if summary is None:
        summary = Shared(_funding_summary(index, snap, place, day, all_programmes))
        index.funding_cache.keep(key, summary, kept_json(summary))  # any live_on: a new key
    return summary


def _days(moment: datetime) -> tuple[date, date]:
    """The UTC and London days of ``moment`` (:func:`opportunities.days_of_hour`, worked
    out once an hour): an answer kept for a day is kept for both."""
    return opportunities.days_of_hour(int(moment.timestamp() // 3600))


@functools.lru_cache(maxsize=4096)
def _opportunities_url(code: str) -> str:
    """The link to the patch's area's opportunities (the same for every patch there)."""
    return f"/api/v1/opportunities?{urlencode({'area': code})}"


def _patch_area(place: Place) -> str:
    """The patch's own area: its ward (a postcode, a point or a ward asked for), else the
    borough, BCU or London asked for."""
    relations = place.coverage.relations
    return next(
        codes[0]
        for relation in ("serves_ward", "serves_borough", "serves_bcu", "serves_london")
        if (codes := relations.get(relation))
    )


def _by_id(g: GrantFact) -> int:
    return g.id


def _pounds(pence: int) -> float:
    return round(pence / 100, 2)


def _cells(cells: dict[str, list[int]], present: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Sums by scope as the answer shows them (the ``present`` scopes always, at zero)."""
    out: dict[str, dict[str, Any]] = {s: {"awards": 0, "amount": 0.0} for s in present}
    for name, (awards, pence) in cells.items():
        out[name] = {"awards": awards, "amount": _pounds(pence)}
    return out


def _live_on(day: date) -> Callable[[GrantFact], bool]:
    return lambda g: is_live(g, day)


def _funding_summary(
    index: DirectoryIndex, snap: GeographySnapshot, place: Place, day: date, all_programmes: bool,
    *, compose: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Live awards whose beneficiary areas are in the patch, by programme and by scope:
    community-safety programmes only unless ``all_programmes`` (the others are counted in
    ``programmes.other_programmes``).

    Awards made for all of London or a whole BCU are reported at that scope, never divided
    among boroughs; an award is counted once even if it names several of the patch's areas."""
    area = _patch_area(place)
    found = reaching(
        index, snap, place.coverage.relations, area,
        Classify(_live_on(day), all_programmes, None), ("funding", day, all_programmes),
        _by_id, compose=compose,
    )  # fmt: skip
    sums = found.sums
    present = scopes_present(snap, area)
    rows = sorted(
        (
            {
                "programme": entry.programme,
                "community_safety": entry.community_safety,
                "awards": entry.awards,
                "amount": _pounds(entry.pence),
                "by_scope": _cells(entry.by_scope, ()),
                "scopes": _cells(entry.scopes, present),
            }
            for entry in sums.programmes.values()
        ),
        key=lambda e: (-e["amount"], e["programme"]["name"] if e["programme"] else ""),
    )
    groups = {s: HeadlineGroup() for s in present} | sums.groups
    data = index.facts
    if "shared" in groups and data is not None and snap.areas[area].type in LISTED_LEVELS:
        groups["shared"] = replace(
            groups["shared"], equal_share=equal_share(data, snap, area, sums.shared.values())
        )
    reached = (found.total, sums.pence, sums.without_amount)
    return {
        "live_on": day.isoformat(),
        "awards": found.total,
        "amount": _pounds(sums.pence),
        "headline": headline_answer(snap, area, groups, reached, data=data),
        "by_programme": rows,
        "programmes": (
            {"counted": "all", "rule": ALL_PROGRAMMES_RULE}
            if all_programmes
            else {
                "counted": "community_safety",
                "rule": community_safety_rule_text(),
                "other_programmes": {
                    "awards": found.other,
                    "amount": _pounds(sums.other_pence),
                },
            }
        ),
        "rule": "Live awards (started by live_on and not ended before it; an award without "
        "dates, status unknown, is live on no day) whose beneficiary areas include the "
        "patch's ward, borough, BCU or London (or, for an area, areas inside it); awards and amount count each once, in "
        "full; a regrant (paid through another award) is left out when an award it was paid "
        "through (its parent, or the parent's parent…) is counted here, its money being "
        "counted there, and counted when none is. Pan-London and BCU-wide awards are shown at "
        "their own scope (by_scope), in full, and are not apportioned to boroughs. headline keeps the patch's own awards "
        "(its ward, or the area asked for and the areas inside it) apart from the shared and "
        "wider ones: compare patches by headline.own.",
    }


#: the awards a patch lists (the rest through its ``all_url``)
AWARDS_LISTED = 50
#: an award that ended within this many months before the day is still listed
AWARDS_RECENT_MONTHS = 12


def patch_awards(
    index: DirectoryIndex, snap: GeographySnapshot, place: Place, day: date, filters: PatchFilters
) -> Shared:
    """The awards reaching the patch, live on ``day`` or ended within the last 12 months,
    once per (areas, day, programme filters): kept in the index like the funding summary."""
    all_programmes = filters.include_other_programmes
    key = (day, place.coverage.key, all_programmes, filters.programme)
    awards = index.awards_cache.get(key)
    if awards is None:
        answer = _patch_awards(index, place, day, all_programmes, filters.programme, snap)
        awards, size = _spliced_awards(index, answer)
        index.awards_cache.keep(key, awards, size)
    return awards


#: the keys of a patch's awards before and after its ``contents``, in the answer's order
_AWARDS_HEAD = ("live_on", "ended_since", "total", "listed", "limit")
_COMMA = b","


def _spliced_awards(index: DirectoryIndex, answer: dict[str, Any]) -> tuple[Joined, int]:
    """A patch's awards as JSON parts: its own keys, and each listed award's entry as
    the bytes every patch listing it holds (kept in ``index.awards_cache`` by ("entry",
    award id, scope, status): its status is the day's, and a patch may ask for any day
    with ``live_on``); with the bytes it holds of its own. Joined once, the wards of
    London held 35,200 copies of 379 entries at 100,000 services (16 MB a worker, once
    every ward had asked)."""
    head = orjson.dumps({key: answer[key] for key in _AWARDS_HEAD})[:-1] + b',"contents":['
    rest = {k: v for k, v in answer.items() if k not in _AWARDS_HEAD and k != "contents"}
    tail = b"]," + orjson.dumps(rest, default=encode)[1:]
    parts = [head]
    entries = index.awards_cache
    for number, entry in enumerate(answer["contents"]):
        if number:
            parts.append(_COMMA)
        key = ("entry", entry["id"], entry["scope"], entry["status"])
        encoded = entries.get(key)
        if encoded is None:
            encoded = compact(orjson.dumps(entry))
            entries.keep(key, encoded, KEPT_ENTRY + len(encoded))
        parts.append(encoded)
    parts.append(tail)
    own = KEPT_JSON_OVERHEAD + len(head) + len(tail) + 8 * len(parts)
    return Joined(tuple(parts)), own


def _patch_awards(
    index: DirectoryIndex, place: Place, day: date, all_programmes: bool, programme: str | None,
    snap: GeographySnapshot, *, compose: bool = True,
) -> dict[str, Any]:  # fmt: skip
    since = add_months(day, -AWARDS_RECENT_MONTHS)

    def keep(g: GrantFact) -> bool:  # started by the day and not ended before ``since``, or
        # without dates (status unknown: listed, last, though no funding figure counts it)
        return live_between(g, since, day) or (g.start is None and g.end is None)

    def order(g: GrantFact) -> tuple[Any, ...]:
        return (
            g.start is None,
            -(g.start or day).toordinal(),
            -(g.end or day).toordinal(),
            -g.id,
        )

    found = reaching(
        index, snap, place.coverage.relations, _patch_area(place),
        Classify(keep, all_programmes, programme), ("awards", day, all_programmes, programme),
        order, compose=compose,
    )  # fmt: skip
    settings = index.settings or Settings()
    contents = [
        {
            "id": g.id,
            "ref": g.ref,
            "title": g.title,
            "funder": {"ref": g.funder_ref, "name": g.funder_name},
            "recipient": {"ref": g.recipient_ref, "name": g.recipient_name},
            "programme": (
                {"id": g.programme_id, "name": g.programme_name} if g.programme_id else None
            ),
            "amount": None if g.amount_pence is None else g.amount_pence / 100,
            "start": _iso(g.start),
            "end": _iso(g.end),
            "status": grant_flags(g, day, settings)["status"],
            "scope": scope,
            "community_safety": g.community_safety,
            "demo": g.demo,
            "url": f"/api/v1/grants/{g.id}",
        }
        for g, scope in found.first(AWARDS_LISTED, order)
    ]
    code = _patch_area(place)
    if programme is not None:
        counted: dict[str, Any] = {"counted": "programme", "programme": programme}
    elif all_programmes:
        counted = {"counted": "all", "rule": ALL_PROGRAMMES_RULE}
    else:
        counted = {
            "counted": "community_safety",
            "rule": community_safety_rule_text(),
            "other_programmes": {"awards": found.other},
        }
    return {
        "live_on": day.isoformat(),
        "ended_since": since.isoformat(),
        "total": found.total,
        "listed": len(contents),
        "limit": AWARDS_LISTED,
        "contents": contents,
        "all_url": f"/api/v1/grants?{urlencode({'area': code})}",
        "programmes": counted,
        "rule": "Awards whose beneficiary areas include the patch's ward, borough, BCU or "
        "London (or, for an area, areas inside it), started by live_on and live that day or "
        f"ended within the {AWARDS_RECENT_MONTHS} months before it (from ended_since), and "
        "those without dates (status unknown, listed last; the funding figures count only "
        "live awards); planned awards are left out, and so are regrants paid through an award "
        "listed here (its parent, or the parent's parent…), as in funding; a regrant whose every "
        "such award is not here is listed. Each is listed once, at the scope it reaches the patch at (ward, "
        "part, borough, bcu, london), whether or not it funds a listed service. "
        f"The first {AWARDS_LISTED} are listed; all_url lists every award reaching the area, "
        "of any date and programme.",
        "sort": "newest first: by start date (awards without one last), then end date, "
        "latest first, then id",
    }


#: the most a caseload lookup answers, in bytes of JSON (as the kept answers measure it):
#: a request of a few KB must not make an answer of hundreds of MB as the directory grows
LOOKUP_BYTES_MAX = 8 * 1024 * 1024
#: services listed in full per postcode with detail=full, by default and at most
LOOKUP_PER_POSTCODE, LOOKUP_PER_POSTCODE_MAX = 25, 100


def patch_lookup(
    index: DirectoryIndex, snap: GeographySnapshot, repo: GeographyRepository,
    settings: Settings, texts: list[Any], filters: PatchFilters, *, detail: str,
    per_postcode: int = LOOKUP_PER_POSTCODE,
) -> dict[str, Any]:  # fmt: skip
    """A caseload of postcodes: per postcode its patch and the matching services (all their
    ids, or the first ``per_postcode`` in full with ``detail="full"``; ``counts`` says how
    many match), or its problem, in the order sent. An answer over LOOKUP_BYTES_MAX is
    refused (413) rather than built."""
    filters.check()
    _check_programme(index, filters)
    results = []
    size = 0
    for item in geography.lookup_postcodes(snap, repo, texts, settings.bulk_limit):
        if "result" not in item:
            results.append(item)
            continue
        answer = item["result"]
        ward = answer["ward"]["code"] if answer["ward"] else None
        point = (answer["easting"], answer["northing"])
        place = place_for_areas(answer, answer["borough"]["code"], ward, snap, point)
        matches = _matching(index, snap, place, filters)
        ordered, counts = matches.ordered(), matches.counts
        patch_answer: dict[str, Any] = {
            "postcode": answer["postcode"],
            "ward": answer["ward"],
            "borough": answer["borough"],
            "bcu": answer["bcu"],
            "police_force": answer["police_force"],
            "counts": counts,
        }
        if detail == "full":
            chosen = ordered[:per_postcode]
            matches.nearby.locate(chosen)
            listed = [
                Extended(
                    (*index.services[sid].body_parts, b"}"),
                    {"relations": [r["relation"] for r in matches.reasons(sid)]},
                )
                for sid in chosen
            ]
            patch_answer["services"] = listed
            size += sum(len(entry.json()) for entry in listed)
        else:
            patch_answer["service_ids"] = ordered
            size += 8 * len(ordered)
        size += 600  # the postcode, its areas and counts
        if size > LOOKUP_BYTES_MAX:
            raise AnswerTooLargeError(
                f"The answer would be over {LOOKUP_BYTES_MAX // 2**20} MB by postcode "
                f"{len(results) + 1} of {len(texts)}: send fewer postcodes"
                + (", a smaller per_page or detail=ids." if detail == "full" else ".")
            )
        results.append({"query": item["query"], "result": patch_answer})
    found_count = sum(1 for r in results if "result" in r)
    return {"results": results, "found": found_count, "problems": len(results) - found_count}


def for_representations(
    contents: list[Mapping[str, Any]], repo: SearchQueries, day: date
) -> tuple[list[dict[str, Any]], dict[int, list[Any]], dict[int, list[str]]]:
    """A patch page's services as the GeoJSON and CSV builders take them (theme ids,
    relations kept), with their sites and the programmes live on ``day`` read as
    ``/services`` reads them: a site is the same feature, with the same id, and a service
    the same CSV row, on both."""
    services = [{**s, "themes": [t["id"] for t in s["themes"]]} for s in contents]
    ids = [s["id"] for s in services]
    return services, repo.sites_of(ids), repo.live_programmes(ids, day)
