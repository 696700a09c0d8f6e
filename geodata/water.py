"""Open water between areas: where a point in no area is still inside the layer's outline.

London's borough polygons exclude the Thames below mean high water. The river is not a hole
in their union (it runs out of London at the east, so it is an inlet open to the outside),
so "the union with its holes filled" does not hold it. :func:`water_between` closes the
union (a buffer out and back in) and keeps, of what that fills, the pieces that lie between
areas on opposite banks (areas that do not touch): the river. What the closing fills along
the layer's outer edge (a notch of Hertfordshire or Surrey land) meets one area, or two that
touch at the notch's head, and is left out: it is outside the layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["water_between"]


def water_between(
    geometries: Sequence[BaseGeometry],
    *,
    closing: float = 800.0,
    touch_tolerance: float = 1.0,
) -> BaseGeometry:
    """The open water enclosed by a layer of areas, as one (Multi)Polygon.

    Parameters
    ----------
    geometries : sequence of shapely geometries
        Polygons/MultiPolygons of one layer in a projected CRS (metres).
    closing : float, default 800.0
        The radius of the closing: water up to twice as wide is found. For London's
        boroughs, 800 m finds 20.9 km² of the 21.4 km² by which the full-extent LSOAs
        (which hold the river) exceed them, and 0.006 km² outside those.
    touch_tolerance : float, default 1.0
        Areas at most this far apart touch, and a piece of water meets an area this close.

    Returns
    -------
    shapely geometry
        The water (empty when there is none): no part of it is in any of the areas.
    """
    geoms = np.asarray(list(geometries), dtype=object)
    if len(geoms) < 2:
        return shapely.Polygon()
    union = shapely.union_all(geoms)
    closed = shapely.buffer(shapely.buffer(union, closing), -closing)
    gaps = shapely.get_parts(shapely.difference(closed, union))
    if len(gaps) == 0:
        return shapely.Polygon()
    tree = shapely.STRtree(geoms)
    area_left, area_right = tree.query(geoms, predicate="dwithin", distance=touch_tolerance)
    touching = set(zip(area_left.tolist(), area_right.tolist(), strict=True))
    gap_idx, area_idx = tree.query(gaps, predicate="dwithin", distance=touch_tolerance)
    banks: dict[int, list[int]] = {}
    for gap, area in zip(gap_idx.tolist(), area_idx.tolist(), strict=True):
        banks.setdefault(gap, []).append(area)
    water = [
        gaps[gap]
        for gap, areas in banks.items()
        if any((a, b) not in touching for a in areas for b in areas)
    ]
    return shapely.union_all(water) if water else shapely.Polygon()
