import shapely

from geodata.water import water_between

# Two areas on the north bank (touching), one on the south, a 100 m river between them
# running out of the layer to the east, and a notch of outside land in the north bank.
NORTH_WEST = shapely.box(0, 100, 1000, 1000).difference(shapely.box(400, 700, 500, 1000))
NORTH_EAST = shapely.box(1000, 100, 2000, 1000)
SOUTH = shapely.box(0, -1000, 2000, 0)


def test_the_river_between_opposite_banks_is_water():
    water = water_between([NORTH_WEST, NORTH_EAST, SOUTH], closing=200)
    assert water.covers(shapely.Point(1500, 50))
    assert water.covers(shapely.Point(1990, 50))
    river = shapely.box(0, 0, 2000, 100)
    assert river.covers(water) and water.area > 0.99 * river.area  # (the mouths rounded)


def test_a_notch_of_outside_land_is_not_water():
    water = water_between([NORTH_WEST, NORTH_EAST, SOUTH], closing=200)
    assert not water.covers(shapely.Point(450, 950))
    assert not water.covers(shapely.Point(2100, 50))  # beyond the layer's end


def test_a_layer_without_gaps_has_no_water():
    assert water_between([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]).is_empty
