import pytest
import shapely

from geodata.neighbours import neighbours


def square(x0, size=10):
    return shapely.box(x0, 0, x0 + size, size)


def test_touching_squares():
    assert neighbours(["b", "a"], [square(10), square(0)]) == [("a", "b", "touches")]


def test_gap_of_water_is_across_water():
    result = neighbours(["a", "b"], [square(0), square(510)], water_gap=700)
    assert result == [("a", "b", "across_water")]


def test_gap_wider_than_water_gap_is_not_neighbours():
    assert neighbours(["a", "b"], [square(0), square(800)], water_gap=700) == []


def test_third_area_in_between_blocks_across_water():
    result = neighbours(
        ["a", "b", "c"], [square(0), square(300, size=10), square(20, size=270)], water_gap=700
    )
    # a (0..10) and b (300..310) are 290 apart with c (20..290) between them.
    pairs = {(a, b) for a, b, _ in result}
    assert ("a", "b") not in pairs


def test_near_touch_within_tolerance():
    assert neighbours(["a", "b"], [square(0), square(10.5)], touch_tolerance=1.0) == [
        ("a", "b", "touches")
    ]


def test_each_pair_once_sorted():
    result = neighbours(["c", "a", "b"], [square(20), square(0), square(10)])
    # a and c are 10 apart with b in between: not neighbours
    assert result == [("a", "b", "touches"), ("b", "c", "touches")]


def test_too_few_areas():
    assert neighbours([], []) == []
    assert neighbours(["a"], [square(0)]) == []


def test_bad_arguments():
    with pytest.raises(ValueError):
        neighbours(["a"], [square(0), square(10)])
    with pytest.raises(ValueError):
        neighbours(["a", "b"], [square(0), square(10)], touch_tolerance=5, water_gap=1)


# -- real boroughs -----------------------------------------------------------------------
TOWER_HAMLETS, SOUTHWARK, GREENWICH, LEWISHAM = "E09000030", "E09000028", "E09000011", "E09000023"
LAMBETH, WESTMINSTER, WANDSWORTH, HAMMERSMITH = "E09000022", "E09000033", "E09000032", "E09000013"
BEXLEY, HAVERING, CAMDEN, ISLINGTON = "E09000004", "E09000016", "E09000007", "E09000019"
BROMLEY, BARNET = "E09000006", "E09000003"


@pytest.fixture(scope="module")
def borough_pairs(bundle):
    return {
        (a, b): rel
        for a, b, rel in bundle.neighbours
        if a.startswith("E09") and b.startswith("E09")
    }


def relation(pairs, x, y):
    return pairs.get((min(x, y), max(x, y)))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (TOWER_HAMLETS, SOUTHWARK),
        (TOWER_HAMLETS, GREENWICH),
        (TOWER_HAMLETS, LEWISHAM),
        (LAMBETH, WESTMINSTER),
        (WANDSWORTH, HAMMERSMITH),
        (BEXLEY, HAVERING),
    ],
)
def test_real_boroughs_across_the_thames(borough_pairs, a, b):
    assert relation(borough_pairs, a, b) == "across_water"


def test_camden_touches_islington(borough_pairs):
    assert relation(borough_pairs, CAMDEN, ISLINGTON) == "touches"


@pytest.mark.parametrize("other", [TOWER_HAMLETS, BARNET])
def test_bromley_is_not_a_neighbour(borough_pairs, other):
    assert relation(borough_pairs, BROMLEY, other) is None
