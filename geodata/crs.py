"""Coordinate transforms between WGS84 (EPSG:4326) and British National Grid (EPSG:27700).

This is the only module that transforms coordinates. Areas and point-in-area tests work
in EPSG:27700 metres; inputs and GeoJSON outputs are WGS84 longitude/latitude. The
transformers are built once at import and always use (x, y) = (lon, lat) /
(easting, northing) order.

Note: without the OSTN15 grid file installed, pyproj uses a Helmert transform that is
within a few metres of OSTN15 around London; the shared data's published lat/long were
computed with OSTN15, so expect ~1-2 m differences.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

__all__ = [
    "WGS84",
    "BNG",
    "LONDON_BBOX_BNG",
    "to_bng",
    "to_wgs84",
    "geometry_to_bng",
    "geometry_to_wgs84",
    "is_valid_lonlat",
    "is_valid_bng",
]

WGS84 = "EPSG:4326"
BNG = "EPSG:27700"

#: Rough bounding box of Greater London in EPSG:27700 (minx, miny, maxx, maxy), metres.
LONDON_BBOX_BNG: tuple[float, float, float, float] = (500000.0, 150000.0, 570000.0, 210000.0)

_TO_BNG = Transformer.from_crs(WGS84, BNG, always_xy=True)
_TO_WGS84 = Transformer.from_crs(BNG, WGS84, always_xy=True)

T = TypeVar("T", float, np.ndarray)
G = TypeVar("G", bound=BaseGeometry)


def _transform(transformer: Transformer, x, y):
    if np.ndim(x) == 0 and np.ndim(y) == 0:
        tx, ty = transformer.transform(float(x), float(y))
        return float(tx), float(ty)
    tx, ty = transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(tx), np.asarray(ty)


def to_bng(lon: T, lat: T) -> tuple[T, T]:
    """Transform WGS84 longitude/latitude to British National Grid.

    Parameters
    ----------
    lon, lat : float or numpy.ndarray
        Degrees, WGS84 (EPSG:4326). Note the order: longitude first.

    Returns
    -------
    tuple
        ``(easting, northing)`` in metres (EPSG:27700): floats for scalar input,
        arrays for array input.
    """
    return _transform(_TO_BNG, lon, lat)


def to_wgs84(easting: T, northing: T) -> tuple[T, T]:
    """Transform British National Grid easting/northing to WGS84 longitude/latitude.

    Parameters
    ----------
    easting, northing : float or numpy.ndarray
        Metres, EPSG:27700.

    Returns
    -------
    tuple
        ``(lon, lat)`` in degrees: floats for scalar input, arrays for array input.
    """
    return _transform(_TO_WGS84, easting, northing)


def geometry_to_wgs84(geom: G) -> G:
    """Return a copy of an EPSG:27700 geometry (or array of them) in WGS84 lon/lat.

    Parameters
    ----------
    geom : shapely geometry or array of geometries
        Coordinates in British National Grid metres.

    Returns
    -------
    shapely geometry or array
        Same type, coordinates in (lon, lat) degrees.
    """
    return shapely.transform(geom, _TO_WGS84.transform, interleaved=False)


def geometry_to_bng(geom: G) -> G:
    """Return a copy of a WGS84 lon/lat geometry (or array of them) in EPSG:27700.

    Parameters
    ----------
    geom : shapely geometry or array of geometries
        Coordinates in (lon, lat) degrees.

    Returns
    -------
    shapely geometry or array
        Same type, coordinates in British National Grid metres.
    """
    return shapely.transform(geom, _TO_BNG.transform, interleaved=False)


def is_valid_lonlat(lon: float, lat: float) -> bool:
    """Say whether ``(lon, lat)`` is a finite WGS84 position.

    Parameters
    ----------
    lon, lat : float
        Candidate longitude and latitude in degrees.

    Returns
    -------
    bool
        True if both are finite numbers, ``-180 <= lon <= 180`` and ``-90 <= lat <= 90``.
    """
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError):
        return False
    return (
        math.isfinite(lon_f)
        and math.isfinite(lat_f)
        and -180.0 <= lon_f <= 180.0
        and -90.0 <= lat_f <= 90.0
    )


def is_valid_bng(easting: float, northing: float) -> bool:
    """Say whether ``(easting, northing)`` lies on the British National Grid.

    Parameters
    ----------
    easting, northing : float
        Candidate coordinates in metres.

    Returns
    -------
    bool
        True if both are finite, ``0 <= easting <= 700000`` and ``0 <= northing <= 1300000``.
    """
    try:
        e, n = float(easting), float(northing)
    except (TypeError, ValueError):
        return False
    return (
        math.isfinite(e) and math.isfinite(n) and 0.0 <= e <= 700_000.0 and 0.0 <= n <= 1_300_000.0
    )
