"""Partners: organisations working on the same themes nearby, ranked with their reasons."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from directory.usecases.catalogue import area_ref
from directory.usecases.geography import GeographySnapshot
from directory.usecases.pagination import envelope
from directory.usecases.patch.index import DirectoryIndex, OrganisationProfile
from directory.usecases.vocabulary import check_themes


def partners(
    index: DirectoryIndex, snap: GeographySnapshot, subject: OrganisationProfile,
    *, page: int, per_page: int, themes: Iterable[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """Organisations working on overlapping themes in the same or neighbouring boroughs
    (neighbours across the Thames count), or London-wide, ranked, each with its reasons. A
    London-wide subject works in every borough: every organisation on its themes is in its
    boroughs."""
    check_themes(themes)
    wanted = set(themes) or subject.themes
    near: dict[str, str] = {}
    for borough in subject.boroughs:
        for code, relation in snap.neighbours.get(borough, []):
            if (
                code not in subject.boroughs
                and snap.areas.get(code)
                and snap.areas[code].type == "borough"
            ):
                near.setdefault(code, relation)
    ranked = []
    for org in index.organisations.values():
        if org.id == subject.id:
            continue
        shared = sorted(wanted & org.themes)
        if not shared:
            continue
        same = sorted(org.boroughs if subject.london_wide else subject.boroughs & org.boroughs)
        neighbouring = sorted(set(near) & org.boroughs - set(same))
        if not same and not neighbouring and not org.london_wide:
            continue
        reasons: list[dict[str, Any]] = [{"reason": "shared_themes", "themes": shared}]
        score = 3 * len(shared)
        if same:
            reasons.append({"reason": "same_borough", "areas": [area_ref(snap, c) for c in same]})
            score += 3
        if neighbouring:
            reasons.append({
                "reason": "neighbouring_borough",
                "areas": [{**area_ref(snap, c), "relation": near[c]} for c in neighbouring],
            })  # fmt: skip
            score += 2
        if org.london_wide:
            reasons.append({"reason": "london_wide"})
            score += 1
        distance = _closest(subject.sites, org.sites)
        if distance is not None and distance <= 5000:
            reasons.append({"reason": "sites_nearby", "distance_m": round(distance)})
            score += 2 if distance <= 2000 else 1
        funders = sorted(set(subject.funders) & set(org.funders))
        if funders:
            reasons.append(
                {"reason": "shared_funders", "funders": [org.funders[f] for f in funders]}
            )
            score += len(funders)
        ranked.append((score, org, reasons))
    ranked.sort(key=lambda item: (-item[0], item[1].name.casefold(), item[1].id))
    chosen = ranked[(page - 1) * per_page : page * per_page]
    contents = [
        {
            "organisation": {"id": org.id, "ref": org.ref, "name": org.name, "type": org.type},
            "score": score,
            "reasons": reasons,
            "services": org.services,
            "contact": _contact(org, wanted),
            "demo": org.demo or org.services_demo,
            "url": f"/api/v1/organisations/{org.id}",
        }
        for score, org, reasons in chosen
    ]
    note = None
    if not wanted:
        note = (
            "Nothing to match: the organisation has no active services with themes. Ask by "
            "postcode with one or more theme ids instead."
        )
    return {
        "note": note,
        "subject": {
            "organisation": None
            if subject.id < 0
            else {"id": subject.id, "ref": subject.ref, "name": subject.name},
            "themes": sorted(wanted),
            "boroughs": [area_ref(snap, c) for c in sorted(subject.boroughs)],
            "london_wide": subject.london_wide,
        },
        "partners": envelope(contents, total_items=len(ranked), page=page, per_page=per_page),
        "ranking": "3 per shared theme, +3 same borough, +2 neighbouring borough (touching or "
        "across the Thames), +1 London-wide, +2 sites within 2 km (+1 within 5 km), +1 per "
        "shared funder; then name",
    }


def _contact(org: OrganisationProfile, themes: set[str]) -> dict[str, str | None]:
    """The organisation's public contact: its own e-mail and website, each filled, where
    the organisation record has none, from its listed services' public contacts (those
    working on the themes asked for first, then by name); the phone is always a service's."""
    contact: dict[str, str | None] = {"email": org.email, "phone": None, "website": org.website}
    ordered = sorted(org.service_contacts, key=lambda item: (not item[1] & themes, item[0]))
    for _name, _themes, *ways in ordered:
        for key, value in zip(("email", "phone", "website"), ways, strict=True):
            if contact[key] is None and value:
                contact[key] = value
    return contact


def _closest(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float | None:
    if not a or not b:
        return None
    return min(math.hypot(x1 - x2, y1 - y2) for x1, y1 in a for x2, y2 in b)


def subject_for_place(
    borough: str, point: tuple[float, float] | None, themes: Iterable[str]
) -> OrganisationProfile:
    """A stand-in 'organisation' for a partners query by postcode and themes."""
    profile = OrganisationProfile(-1, "", "", None, themes=set(themes), boroughs={borough})
    if point is not None:
        profile.sites.append(point)
    return profile
