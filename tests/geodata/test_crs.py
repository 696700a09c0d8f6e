import math

import numpy as np
import pytest
import shapely

from geodata.crs import (
    LONDON_BBOX_BNG,
    geometry_to_bng,
    geometry_to_wgs84,
    is_valid_bng,
    is_valid_lonlat,
    to_bng,
    to_wgs84,
)

BIG_BEN_BNG = (530268.0, 179640.0)
BIG_BEN_LONLAT = (-0.1246, 51.5007)


def test_big_ben_to_wgs84():
    lon, lat = to_wgs84(*BIG_BEN_BNG)
    assert isinstance(lon, float) and isinstance(lat, float)
    assert lon == pytest.approx(BIG_BEN_LONLAT[0], abs=1e-4)
    assert lat == pytest.approx(BIG_BEN_LONLAT[1], abs=1e-4)


def test_big_ben_to_bng_within_a_few_metres():
    e, n = to_bng(*BIG_BEN_LONLAT)
    assert math.dist((e, n), BIG_BEN_BNG) < 10


def test_round_trip_arrays():
    e = np.array([503600.0, 530268.0, 561900.0])
    n = np.array([155900.0, 179640.0, 200900.0])
    lon, lat = to_wgs84(e, n)
    assert isinstance(lon, np.ndarray) and lon.shape == (3,)
    e2, n2 = to_bng(lon, lat)
    np.testing.assert_allclose(e2, e, atol=1e-3)
    np.testing.assert_allclose(n2, n, atol=1e-3)


def test_geometry_round_trip():
    square = shapely.box(530000, 179000, 531000, 180000)
    wgs = geometry_to_wgs84(square)
    minx, miny, maxx, maxy = wgs.bounds
    assert -0.2 < minx < maxx < 0 and 51.4 < miny < maxy < 51.6
    back = geometry_to_bng(wgs)
    assert shapely.hausdorff_distance(back, square) < 0.01  # millimetres


def test_london_bbox_contains_big_ben():
    minx, miny, maxx, maxy = LONDON_BBOX_BNG
    assert minx < BIG_BEN_BNG[0] < maxx and miny < BIG_BEN_BNG[1] < maxy


@pytest.mark.parametrize(
    ("lon", "lat", "ok"),
    [
        (-0.12, 51.5, True),
        (180, 90, True),
        (-180.0001, 0, False),
        (0, 90.5, False),
        (float("nan"), 51.5, False),
        (float("inf"), 51.5, False),
        ("x", 51.5, False),
        (None, 51.5, False),
    ],
)
def test_is_valid_lonlat(lon, lat, ok):
    assert is_valid_lonlat(lon, lat) is ok


@pytest.mark.parametrize(
    ("e", "n", "ok"),
    [
        (530268, 179640, True),
        (0, 0, True),
        (700000, 1300000, True),
        (-1, 179640, False),
        (530268, 1300001, False),
        (float("nan"), 1, False),
        ("a", 1, False),
    ],
)
def test_is_valid_bng(e, n, ok):
    assert is_valid_bng(e, n) is ok
