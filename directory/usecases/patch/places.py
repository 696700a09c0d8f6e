"""Where a patch is: a postcode, a point or an area, with the area codes each relation
(serves its ward, borough, BCU, London; has a site nearby) looks at.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from directory.errors import InvalidInputError
from directory.settings import Settings
from directory.store.repositories.geography import (
    GeographyRepository,
)
from directory.usecases import geography
from directory.usecases.funding.awards import ancestors
from directory.usecases.geography import LONDON, GeographySnapshot, resolve_area


@dataclass(frozen=True)
class Coverage:
    """The area codes each relation looks at, with the codes in order and a hashable key
    (funding summaries are cached by it)."""

    relations: dict[str, list[str]]  # relation → area codes
    codes: tuple[str, ...]
    key: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, relations: dict[str, list[str]]) -> Coverage:
        return cls(
            relations,
            tuple(code for codes in relations.values() for code in codes),
            tuple((relation, *codes) for relation, codes in relations.items()),
        )


@dataclass
class Place:
    """Where a patch is: the geography answer, the codes each relation looks at, and a point
    for nearby sites (postcode and point queries) or the areas whose sites count."""

    geography: dict[str, Any]
    coverage: Coverage
    point: tuple[float, float] | None = None
    site_areas: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=4096)
def _point_coverage(
    ward: str | None, borough: str, bcu: str | None, wide: tuple[str, ...]
) -> Coverage:
    """A postcode's or point's coverage: one per ward, worked out once."""
    return Coverage.of({
        "serves_ward": [ward] if ward else [],
        "serves_borough": [borough],
        "serves_bcu": [bcu] if bcu and bcu != LONDON else [],
        "serves_london": list(wide),
    })  # fmt: skip


def wide_above(snap: GeographySnapshot, codes: list[str]) -> list[str]:
    """The wide areas among ``codes`` (an area and those above it), narrowest first, London
    always last: the Metropolitan Police District for an area in it (its money reaches the
    32 boroughs, not the City), and London."""
    wide = [c for c in codes if c in snap.areas and snap.areas[c].type == "police_area"]
    return [*wide, LONDON]


def place_for_areas(
    geography: dict[str, Any],
    borough: str,
    ward: str | None,
    snap: GeographySnapshot,
    point: tuple[float, float] | None,
) -> Place:
    """A postcode or point: its ward, borough, BCU and London (None: a ward's patch without
    a point, as ``answer.warm_wards`` makes its parts)."""
    bcu = snap.areas[borough].parent_code
    above = [bcu, *ancestors(snap, bcu)] if bcu is not None and bcu in snap.areas else []
    wide = tuple(wide_above(snap, above))
    return Place(geography, _point_coverage(ward, borough, bcu, wide), point)


def place_for_area(code: str, snap: GeographySnapshot) -> Place:
    """An area asked for by code or name: it, its ancestors and the areas inside it."""
    area = snap.areas[code]
    ancestors: list[str] = []
    parent = area.parent_code
    while parent is not None:
        ancestors.append(parent)
        parent = snap.areas[parent].parent_code if parent in snap.areas else None
    inside: list[str] = []
    stack = list(snap.children.get(code, []))
    while stack:
        child = stack.pop()
        inside.append(child)
        stack.extend(snap.children.get(child, []))
    by_type = {snap.areas[a].type: a for a in [code, *ancestors] if a in snap.areas}
    coverage = Coverage.of({
        "serves_ward": [by_type["ward"]] if "ward" in by_type else [],
        "serves_part": sorted(inside),
        "serves_borough": [by_type["borough"]] if "borough" in by_type else [],
        "serves_bcu": [by_type["bcu"]] if "bcu" in by_type else [],
        "serves_london": wide_above(snap, [code, *ancestors]),
    })  # fmt: skip
    geography = {
        "area": area.ref(),
        "ward": snap.ref(by_type.get("ward")),
        "borough": snap.ref(by_type.get("borough")),
        "bcu": snap.ref(by_type.get("bcu")),
        "region": snap.ref(LONDON),
        "match": "area",
    }
    if by_type.get("borough") == "E09000001":
        geography["bcu_note"] = (
            "The City of London is policed by the City of London Police and is in no Met BCU."
        )
    site_areas = [code] if area.type in ("ward", "borough") else [
        c for c in inside if snap.areas[c].type == "borough"
    ]  # fmt: skip
    return Place(geography, coverage, site_areas=site_areas)


def resolve_place(
    snap: GeographySnapshot, repo: GeographyRepository, settings: Settings, *,
    postcode: str | None = None, lat: float | None = None, lon: float | None = None,
    easting: float | None = None, northing: float | None = None, area: str | None = None,
    radius: float | None = None,
) -> Place:  # fmt: skip
    """The patch asked for: exactly one of a postcode, a point or an area (code or name).
    A ``radius`` given (sites near the place's point) is refused with an area, which has
    none: taken without a word, it read as if it narrowed the patch."""
    by_point = lat is not None or lon is not None or easting is not None or northing is not None
    if (postcode is not None) + by_point + (area is not None) != 1:
        given = [
            name for name, present in (
                ("postcode", postcode is not None), ("point", by_point), ("area", area is not None),
            ) if present
        ]  # fmt: skip
        raise InvalidInputError(
            "Give exactly one of postcode, lat and lon, easting and northing, or area.",
            errors={"_query": [f"got {', '.join(given) or 'none'}"]},
        )
    if postcode is not None:
        answer = geography.lookup_postcode(snap, repo, postcode)
        point = (answer["easting"], answer["northing"])
        ward = answer["ward"]["code"] if answer["ward"] else None
        return place_for_areas(answer, answer["borough"]["code"], ward, snap, point)
    if area is not None:
        if radius is not None:
            raise InvalidInputError(
                "radius is the distance around a postcode or a point within which sites count "
                "as nearby; an area's patch has no point, so leave radius out (or ask by "
                "postcode or lat and lon).",
                errors={"radius": ["only with postcode, lat and lon, or easting and northing"]},
            )
        return place_for_area(resolve_area(snap, area), snap)
    x, y, _ = geography.point_from_query(lat=lat, lon=lon, easting=easting, northing=northing)
    found = geography.resolve_point(snap, settings, x, y)
    answer = {
        "easting": round(x, 1),
        "northing": round(y, 1),
        **snap.hierarchy(found.borough, found.ward),
        "flags": found.flags,
        "match": "point",
        "data_release": snap.release,
    }
    return place_for_areas(answer, found.borough, found.ward, snap, (x, y))
