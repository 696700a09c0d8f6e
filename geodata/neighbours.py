"""Neighbouring areas: touching, or facing each other across open water.

London's borough polygons exclude the Thames below mean high water, so boroughs on
opposite banks never touch. :func:`neighbours` counts them as neighbours when the gap
between them is narrow and open (the shortest line between them crosses no third area).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["neighbours", "TOUCHES", "ACROSS_WATER"]

TOUCHES = "touches"
ACROSS_WATER = "across_water"


def neighbours(
    codes: Sequence[str],
    geometries: Sequence[BaseGeometry],
    *,
    touch_tolerance: float = 1.0,
    water_gap: float = 700.0,
) -> list[tuple[str, str, str]]:
    """Find neighbouring pairs among a layer of areas.

    Parameters
    ----------
    codes : sequence of str
        Unique area codes.
    geometries : sequence of shapely geometries
        Polygons/MultiPolygons in a projected CRS (metres), same order as ``codes``.
    touch_tolerance : float, default 1.0
        Areas at most this far apart *touch* (absorbs slivers and digitising noise).
    water_gap : float, default 700.0
        Areas further apart than ``touch_tolerance`` but at most this far are neighbours
        *across water* when the shortest line between them runs through no third area
        (more than ``touch_tolerance`` of it inside one): the gap is open water or, at
        the edge of the layer, land outside every area.

    Returns
    -------
    list of tuple (str, str, str)
        Each unordered pair once as ``(a, b, relation)`` with ``a < b`` and relation
        ``"touches"`` or ``"across_water"``, sorted.
    """
    codes = [str(c) for c in codes]
    geoms = np.asarray(list(geometries), dtype=object)
    if len(codes) != len(geoms):
        raise ValueError(f"{len(codes)} codes but {len(geoms)} geometries")
    if len(geoms) < 2:
        return []
    if touch_tolerance < 0 or water_gap < touch_tolerance:
        raise ValueError("need 0 <= touch_tolerance <= water_gap")
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=water_gap)
    keep = left < right
    left, right = left[keep], right[keep]
    if left.size == 0:
        return []
    distances = shapely.distance(geoms[left], geoms[right])
    result: list[tuple[str, str, str]] = []

    def add(i: int, j: int, relation: str) -> None:
        a, b = sorted((codes[i], codes[j]))
        result.append((a, b, relation))

    touching = distances <= touch_tolerance
    for i, j in zip(left[touching], right[touching], strict=True):
        add(int(i), int(j), TOUCHES)

    gap_left, gap_right = left[~touching], right[~touching]
    if gap_left.size:
        lines = shapely.shortest_line(geoms[gap_left], geoms[gap_right])
        line_idx, area_idx = tree.query(lines, predicate="intersects")
        third = (area_idx != gap_left[line_idx]) & (area_idx != gap_right[line_idx])
        line_idx, area_idx = line_idx[third], area_idx[third]
        blocked = np.zeros(gap_left.size, dtype=bool)
        if line_idx.size:
            inside = shapely.length(shapely.intersection(lines[line_idx], geoms[area_idx]))
            blocked[line_idx[inside > touch_tolerance]] = True
        for i, j in zip(gap_left[~blocked], gap_right[~blocked], strict=True):
            add(int(i), int(j), ACROSS_WATER)
    result.sort()
    return result
