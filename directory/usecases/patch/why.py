"""Why a service is (or is not) in a patch: whether it is, where (its place in the patch's
order and the page that puts it on) and why, from the same index and lists the patch is
made from (``matching.Matching``), with each of the patch's rules checked for the service
in plain words: its status, each filter given, its coverage against the patch's areas and
its nearest delivery site against the radius (or the area asked for).

Everything here is a lookup of the one service: its entry in the index, its grid sites
(a binary search), and the patch's lists' sets; its place in the order is counted from the
lists (``Matching.position``), not by listing the patch up to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from typing import Any

import numpy as np
import orjson

from directory.errors import ServiceNotFoundError
from directory.store.repositories.directory import CatalogueQueries
from directory.store.words import query_terms
from directory.usecases.catalogue import area_ref, is_live
from directory.usecases.geography import LONDON, GeographySnapshot
from directory.usecases.patch.answer import PatchFilters, _filters_answer, _matching
from directory.usecases.patch.index import DirectoryIndex, IndexedService
from directory.usecases.patch.places import Place

#: the checks an answer may give, in its order
CHECKS = ("status", "theme", "programme", "live_on", "q", "coverage", "sites")
#: how the patch's areas are named, by relation
_PATCH_AREAS = {
    "serves_ward": "ward",
    "serves_borough": "borough",
    "serves_bcu": "BCU",
    "serves_london": "",
}
#: grants named in a check's words at most (the rest are counted)
GRANTS_NAMED = 5


def why(
    index: DirectoryIndex, snap: GeographySnapshot, catalogue: CatalogueQueries, place: Place,
    filters: PatchFilters, key: str, *, per_page: int,
) -> dict[str, Any]:  # fmt: skip
    """Whether the service ``key`` (id or ref) is in the patch of ``place`` under
    ``filters``, where (``position`` from 1, and its ``page`` at ``per_page``) and with
    which ``relations`` (as the patch lists them), and ``reasons``: each rule checked.
    An unknown service is a 404 service-not-found; bad filters are what the patch says."""
    matches = _matching(index, snap, place, filters)  # (checks the filters first, as /patch)
    sid = catalogue.service_id(key)
    if sid is None:
        raise ServiceNotFoundError(f"No service has the id or ref {key!r}.")
    service = index.services.get(sid)
    answer: dict[str, Any] = {**place.geography, "filters": _filters_answer(filters, place.point is not None)}  # fmt: skip
    if service is None:  # withdrawn (the index lists the services not withdrawn), or new
        (row,) = catalogue.services([sid])
        withdrawn = row.withdrawn_at is not None
        answer["service"] = _service_ref(row.id, row.ref, row.name, "withdrawn" if withdrawn else row.status)  # fmt: skip
        answer["in_patch"] = False
        answer["reasons"] = [_withdrawn(row) if withdrawn else _not_yet(row)]
        return answer
    body = orjson.loads(service.body_json)
    answer["service"] = _service_ref(sid, body["ref"], body["name"], service.status)
    position = matches.position(sid)
    answer["in_patch"] = position is not None
    if position is not None:
        answer["position"] = position + 1
        answer["page"] = position // per_page + 1
        answer["per_page"] = per_page
        answer["relations"] = matches.reasons(sid)
    day = filters.live_on or index.day  # (the day the patch's filters take: the index's)
    reasons = [_status(service, filters)]
    if filters.themes:
        reasons.append(_themes(service, body, filters.themes))
    if filters.programme is not None:
        reasons.append(_programme(service, filters.programme, day))
    if filters.live_on is not None:
        reasons.append(_live_on(service, filters.live_on))
    if filters.q:
        reasons.append(_words(service, filters.q))
    reasons.append(_coverage(snap, place, body))
    reasons.append(_sites(index, place, filters, sid, body))
    answer["reasons"] = reasons
    return answer


def _service_ref(sid: int, ref: str, name: str, status: str) -> dict[str, Any]:
    return {"id": sid, "ref": ref, "name": name, "status": status, "url": f"/api/v1/services/{sid}"}


def _check(check: str, passed: bool, detail: str, **more: Any) -> dict[str, Any]:
    return {"check": check, "passed": passed, "detail": detail, **more}


def _withdrawn(row: Any) -> dict[str, Any]:
    return _check(
        "status", False,
        f"It was withdrawn on {row.withdrawn_at.date().isoformat()}: a withdrawn service is in "
        "no patch (its coverage and sites are not checked).",
        status="withdrawn",
    )  # fmt: skip


def _not_yet(row: Any) -> dict[str, Any]:
    """A service written since the patch's data was read (the index is rebuilt for each
    data version, in the background while serving): the patch does not list it yet."""
    return _check(
        "status", False,
        "It was added or restored after the data the patch answers from was read: ask again "
        "in a minute.",
        status=row.status,
    )  # fmt: skip


def _status(service: IndexedService, filters: PatchFilters) -> dict[str, Any]:
    status = service.status
    if filters.status is None:
        return _check("status", True, f"It is {status}; status=any lists every status.", status=status)  # fmt: skip
    if status == filters.status:
        return _check("status", True, f"It is {status}, as the patch lists (status={status}).", status=status)  # fmt: skip
    return _check(
        "status", False,
        f"It is {status}; the patch lists {filters.status} services only (status="
        f"{filters.status}; status=any lists every status).",
        status=status,
    )  # fmt: skip


def _themes(service: IndexedService, body: dict[str, Any], asked: Iterable[str]) -> dict[str, Any]:
    missing = sorted(set(asked) - service.themes)
    has = ", ".join(t["id"] for t in body["themes"]) or "none"
    if not missing:
        return _check("theme", True, f"It has every theme asked for ({', '.join(asked)}).")
    return _check(
        "theme", False,
        f"It does not have the theme{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
        f"asked for (a service needs every theme given); its themes are: {has}.",
        missing=missing,
    )  # fmt: skip


def _grant_words(grants: list[Any]) -> str:
    named = [f"{g.ref} ({_iso(g.start, 'no start')} to {_iso(g.end, 'no end')})" for g in grants[:GRANTS_NAMED]]  # fmt: skip
    if len(grants) > GRANTS_NAMED:
        named.append(f"{len(grants) - GRANTS_NAMED} more")
    return ", ".join(named)


def _iso(day: date | None, none: str) -> str:
    return day.isoformat() if day is not None else none


def _programme(service: IndexedService, programme: str, day: date) -> dict[str, Any]:
    held = sorted((g for g in service.grants if g.programme_id == programme), key=_by_dates)
    live = [g for g in held if is_live(g, day)]
    if live:
        return _check(
            "programme", True,
            f"Its grant {_grant_words(live[:1])} from programme {programme} is live on "
            f"{day.isoformat()}.",
        )  # fmt: skip
    if not held:
        return _check("programme", False, f"It holds no grant from programme {programme}.")
    return _check(
        "programme", False,
        f"Its grants from programme {programme}, {_grant_words(held)}, are not live on "
        f"{day.isoformat()}.",
    )  # fmt: skip


def _live_on(service: IndexedService, day: date) -> dict[str, Any]:
    held = sorted(service.grants, key=_by_dates)
    live = [g for g in held if is_live(g, day)]
    if live:
        return _check("live_on", True, f"Its grant {_grant_words(live[:1])} is live on {day.isoformat()}.")  # fmt: skip
    if not held:
        return _check("live_on", False, "It holds no grant, so none is live on that day.")
    return _check(
        "live_on", False,
        f"None of its grants is live on {day.isoformat()}: {_grant_words(held)}.",
    )  # fmt: skip


def _by_dates(g: Any) -> tuple[Any, ...]:
    return (g.start or date.min, g.end or date.max, g.id)


def _words(service: IndexedService, q: str) -> dict[str, Any]:
    terms = query_terms(q)
    if not terms:
        return _check("q", False, "q has no words to search for (only stop words): it matches nothing.")  # fmt: skip
    text = service.text
    missing = [t.text for t in terms if not t.exclude and " " + t.text not in text]
    excluded = [t.text for t in terms if t.exclude and " " + t.text in text]
    if not missing and not excluded:
        return _check("q", True, "Every word of q starts a word of its service, organisation or theme names or description.")  # fmt: skip
    said = []
    if missing:
        said.append(
            f"{_quoted(missing)} start{'s' if len(missing) == 1 else ''} no word of its "
            "service, organisation or theme names or description"
        )
    if excluded:
        said.append(f"it has {_quoted(excluded)}, which q excludes")
    return _check("q", False, "; ".join(said).capitalize() + ".", missing=missing, excluded=excluded)  # fmt: skip


def _quoted(words: list[str]) -> str:
    return ", ".join(f'"{w}"' for w in words)


def _area_words(snap: GeographySnapshot, code: str) -> str:
    ref = area_ref(snap, code)
    if code == LONDON:
        return "London"
    return f"{ref['name'] or code} ({ref['type'] or 'unknown area'})"


def _patch_areas(snap: GeographySnapshot, place: Place) -> str:
    named = []
    for relation, codes in place.coverage.relations.items():
        if relation == "serves_part":
            if codes:
                area = place.geography.get("area") or {}
                named.append(f"an area inside {area.get('name') or 'the area asked for'}")
            continue
        named.extend(_area_words(snap, code) for code in codes)
    return ", ".join(named)


def _coverage(snap: GeographySnapshot, place: Place, body: dict[str, Any]) -> dict[str, Any]:
    areas = body["coverage"]
    codes = {a["code"] for a in areas}
    served = [
        (relation, code)
        for relation, found in place.coverage.relations.items()
        for code in found
        if code in codes
    ]
    patch = _patch_areas(snap, place)
    if served:
        relation, code = served[0]
        what = _PATCH_AREAS.get(relation)
        where = "an area inside the area asked for" if what is None else (f"the patch's {what}" if what else "all of London")  # fmt: skip
        return _check(
            "coverage", True,
            f"Its coverage names {_area_words(snap, code)}, {where} ({relation}).",
            areas=areas,
        )  # fmt: skip
    if not areas:
        return _check(
            "coverage", False,
            f"Its coverage names no area; the patch's areas are {patch}.", areas=areas,
        )  # fmt: skip
    named = ", ".join(_area_words(snap, a["code"]) for a in areas)
    return _check(
        "coverage", False,
        f"Its coverage names {named}, not the patch's areas ({patch}).", areas=areas,
    )  # fmt: skip


def _site_words(site: dict[str, Any]) -> str:
    place = ", ".join(
        part["name"] for part in (site.get("ward"), site.get("borough")) if part and part.get("name")
    )  # fmt: skip
    named = site.get("name") or site.get("ref")
    postcode = f" ({site['postcode']})" if site.get("postcode") else ""
    return f"{named}{postcode}" + (f", in {place}," if place else "")


def _sites(
    index: DirectoryIndex, place: Place, filters: PatchFilters, sid: int, body: dict[str, Any]
) -> dict[str, Any]:
    if place.point is not None:
        nearest = index.grid.nearest_site_of(sid, *place.point)
        radius = filters.radius
        if nearest is None:
            none_at = "no delivery site on record" if not body["sites"] else "no delivery site with a map point"  # fmt: skip
            return _check("sites", False, f"It has {none_at}, so no site is near the point.")
        at, squared = nearest
        metres = int(np.rint(math.sqrt(squared)))
        site = index.grid.sites[at].body
        within = squared <= radius * radius
        return _check(
            "sites", within,
            f"Its nearest delivery site, {_site_words(dict(site))} is {metres:,} m away, "
            f"{'within' if within else 'beyond'} the {_metres(radius)} m radius.",
            distance_m=metres, radius_m=radius, site=site,
        )  # fmt: skip
    inside = [code for code in place.site_areas if sid in index.sites_in_area.get(code, {})]
    sites = body["sites"]
    area = place.geography.get("area") or {}
    named = area.get("name") or "the area asked for"
    if inside:
        site = index.sites_in_area[inside[0]][sid].body
        return _check(
            "sites", True,
            f"Its delivery site {_site_words(dict(site))} is inside {named}.",
            site=site,
        )  # fmt: skip
    if not sites:
        return _check("sites", False, "It has no delivery site on record.")
    return _check(
        "sites", False,
        f"None of its {len(sites)} delivery site{'s' if len(sites) > 1 else ''} is inside "
        f"{named}: {'; '.join(_site_words(s).rstrip(',') for s in sites[:GRANTS_NAMED])}.",
    )  # fmt: skip


def _metres(radius: float) -> str:
    return f"{radius:,.0f}" if radius == int(radius) else f"{radius:,}"
