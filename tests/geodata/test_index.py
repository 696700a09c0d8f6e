"""AreaIndex on tiny synthetic shapes: covers semantics, holes, multipolygons, nearest."""

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from geodata.index import AreaIndex

LEFT = shapely.box(0, 0, 10, 10)  # shares the edge x=10 with RIGHT
RIGHT = shapely.box(10, 0, 20, 10)
DONUT = Polygon([(30, 0), (40, 0), (40, 10), (30, 10)], [[(33, 3), (37, 3), (37, 7), (33, 7)]])
ISLANDS = MultiPolygon([shapely.box(50, 0, 52, 2), shapely.box(56, 0, 58, 2)])


@pytest.fixture
def index():
    return AreaIndex(["L", "R", "D", "I"], [LEFT, RIGHT, DONUT, ISLANDS])


def test_interior_point(index):
    assert index.covering(5, 5) == ["L"]


def test_point_on_shared_edge_is_covered_by_both(index):
    assert index.covering(10, 5) == ["L", "R"]


def test_point_on_outer_corner_is_covered(index):
    assert index.covering(0, 0) == ["L"]


def test_point_in_hole_is_not_covered(index):
    assert index.covering(35, 5) == []


def test_point_on_hole_edge_is_covered(index):
    assert index.covering(33, 5) == ["D"]


def test_multipolygon_parts(index):
    assert index.covering(51, 1) == ["I"]
    assert index.covering(57, 1) == ["I"]
    assert index.covering(54, 1) == []  # between the parts, inside the envelope


def test_point_outside_everything(index):
    assert index.covering(100, 100) == []


def test_nearest_within_tolerance(index):
    assert index.nearest(5, 12, max_distance=3) == ("L", pytest.approx(2.0))


def test_nearest_outside_tolerance(index):
    assert index.nearest(5, 12, max_distance=1.5) is None


def test_nearest_of_covered_point_is_zero(index):
    assert index.nearest(15, 5, max_distance=1) == ("R", 0.0)


def test_nearest_tie_goes_to_first_area(index):
    code, distance = index.nearest(10, 12, max_distance=5)
    assert (code, distance) == ("L", pytest.approx(2.0))


def test_nearest_rejects_negative_distance(index):
    with pytest.raises(ValueError):
        index.nearest(0, 0, -1)


def test_distance_to_edge(index):
    assert index.distance_to_edge("L", 5, 5) == pytest.approx(5.0)
    assert index.distance_to_edge("L", 9, 5) == pytest.approx(1.0)
    assert index.distance_to_edge("D", 35, 5) == pytest.approx(2.0)  # the hole's edge
    assert index.distance_to_edge("L", 15, 5) == pytest.approx(5.0)  # from outside


def test_within_distance_of_edge(index):
    assert index.within_distance_of_edge("L", 9, 5, 1.0)
    assert not index.within_distance_of_edge("L", 5, 5, 4.9)


def test_accessors(index):
    assert index.codes == ("L", "R", "D", "I")
    assert len(index) == 4
    assert index.geometry("R").equals(RIGHT)
    with pytest.raises(KeyError):
        index.geometry("nope")


def test_covering_many_matches_examples(index):
    xs = [5, 10, 35, 51, 100, np.nan]
    ys = [5, 5, 5, 1, 100, 5]
    assert index.covering_many(xs, ys).tolist() == [0, 0, -1, 3, -1, -1]


def test_covering_many_empty(index):
    assert index.covering_many([], []).shape == (0,)


def test_constructor_validates():
    with pytest.raises(ValueError):
        AreaIndex(["a"], [LEFT, RIGHT])
    with pytest.raises(ValueError):
        AreaIndex(["a", "a"], [LEFT, RIGHT])
    with pytest.raises(ValueError):
        AreaIndex(["a"], [Polygon()])


coordinate = st.floats(min_value=-5, max_value=65, allow_nan=False).map(lambda v: round(v, 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=60))
def test_covering_many_agrees_with_covering(points):
    index = AreaIndex(["L", "R", "D", "I"], [LEFT, RIGHT, DONUT, ISLANDS])
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    many = index.covering_many(xs, ys)
    for (x, y), found in zip(points, many, strict=True):
        single = index.covering(x, y)
        expected = index.codes.index(single[0]) if single else -1
        assert found == expected
        # covers semantics, checked against shapely directly
        assert single == [c for c in index.codes if index.geometry(c).covers(shapely.Point(x, y))]
