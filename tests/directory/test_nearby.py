"""The sites near a patch's point (SiteGrid.nearest) and their order (NearbySites.ordered),
against the plain way: every site's distance, and a full sort."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import pytest

from directory.usecases.patch import grid as grid_module
from directory.usecases.patch.grid import SiteGrid
from directory.usecases.patch.matching import NearbySites


@dataclass(frozen=True)
class _Site:
    service_id: int
    x: float
    y: float


def _sites(seed: int, services: int = 600, several: bool = True) -> list[_Site]:
    rng = random.Random(seed)
    found = []
    for sid in range(1, services + 1):
        # some services have several sites (with ``several``; else one each)
        for _ in range(rng.choice((1, 1, 1, 2, 3)) if several else 1):
            found.append(_Site(sid, rng.uniform(528_000, 534_000), rng.uniform(177_000, 183_000)))
    if several:  # two sites of one service at the same distance from the centre, two cells
        found += [_Site(9999, 531_000 + 800, 180_000), _Site(9999, 531_000 - 800, 180_000)]
    return found


@pytest.fixture(params=["by-cells", "by-cells-searched", "every-site", "site-by-site"])
def scan(request, monkeypatch):
    """The ways of finding the sites near a point: by the cells' slices (a big grid), read
    from its table or, for a grid too wide for one (a national directory's), found by
    binary search; by every site's distance in one vector (a small one); and site by site
    in Python (a few dozen)."""
    by_cells = request.param.startswith("by-cells")
    monkeypatch.setattr(grid_module, "SCAN_ALL", 0 if by_cells else 10**9)
    monkeypatch.setattr(grid_module, "CHECK_EACH", 10**9 if request.param == "site-by-site" else 0)
    if request.param == "by-cells-searched":
        monkeypatch.setattr(grid_module, "TABLE_CELLS", 0)
    return request.param


@pytest.mark.parametrize("several", [True, False], ids=["several-sites", "one-site-each"])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("radius", [1, 300, 2000])
def test_the_sites_near_a_point_are_those_within_the_radius_each_service_at_its_nearest(
    seed, radius, several, scan
):
    sites = _sites(seed, several=several)
    grid = SiteGrid(sites)
    x, y = 531_000.0, 180_000.0
    services, metres, at = grid.nearest(x, y, radius)
    nearest: dict[int, float] = {}
    for site in sites:
        d = math.hypot(site.x - x, site.y - y)
        if d <= radius:
            nearest[site.service_id] = min(d, nearest.get(site.service_id, math.inf))
    assert sorted(services.tolist()) == sorted(nearest)  # each once, in no particular order
    assert dict(zip(services.tolist(), metres.tolist(), strict=True)) == {
        sid: round(d) for sid, d in nearest.items()
    }
    for sid, position in zip(services.tolist(), at.tolist(), strict=True):
        site = grid.sites[position]
        assert site.service_id == sid
        assert math.isclose(math.hypot(site.x - x, site.y - y), nearest[sid])
    assert grid.shared.any() == several  # the sort for services with several sites, or none
    if radius == 2000 and several:  # of two sites at the same distance, the first in grid order
        position = at[services.tolist().index(9999)]
        assert position == min(i for i, s in enumerate(grid.sites) if s.service_id == 9999)


def test_a_point_with_no_site_near_it_finds_none(scan):
    for sites in (_sites(1), []):
        services, metres, at = SiteGrid(sites).nearest(500_000.0, 150_000.0, 2000)
        assert len(services) == len(metres) == len(at) == 0


@pytest.mark.parametrize("end", [1, 7, 50, 300, 599, 600, 10_000, None])
def test_the_first_page_of_nearby_services_is_the_full_order_cut_short(end):
    rng = np.random.default_rng(5)
    services = np.arange(1, 601, dtype=np.int64)
    metres = rng.integers(0, 40, len(services)).astype(np.int64)  # many ties of distance
    order = np.full(700, -1, dtype=np.int64)
    order[services] = rng.permutation(len(services))  # each service's place in the order
    nearby = NearbySites(None, services, metres, np.zeros(len(services), dtype=np.int64))
    expected = services[np.lexsort((order[services], metres))].tolist()  # metres, then place
    got = nearby.ordered(order, end)
    assert got == expected[:end]
    assert NearbySites.none().ordered(order, end) == []


@pytest.mark.parametrize("end", [1, 50, None])
def test_ordering_by_the_grids_ranks_is_ordering_by_the_services_order(end):
    """A grid told each site's service's place (``set_ranks``) orders a point's sites by
    reading them along the grid: the same order as looking each service up."""
    grid = SiteGrid(_sites(3))
    order = np.full(10_001, -1, dtype=np.int64)
    ids = np.unique(grid.service)
    order[ids] = np.random.default_rng(3).permutation(len(ids))
    found = grid.nearest(531_000.0, 180_000.0, 2000)
    expected = NearbySites(grid, *found).ordered(order, end)
    grid.set_ranks(order)
    assert NearbySites(grid, *found).ordered(order, end) == expected
    assert len(expected) == (end or len(found[0])) and len(set(expected)) == len(expected)


def test_a_page_of_services_is_looked_up_at_once_and_membership_follows_the_arrays():
    grid = SiteGrid(_sites(2))
    services, metres, at = grid.nearest(531_000.0, 180_000.0, 700)
    expected = dict(
        zip(services.tolist(), zip(metres.tolist(), at.tolist(), strict=True), strict=True)
    )
    nearby = NearbySites(grid, services, metres, at)
    page = [*services.tolist()[::7], 0, 598, 599, 600, 601, 10_000, *services.tolist()[:3]]
    nearby.locate(page)
    assert nearby._set is None  # no set of every nearby service made for a page
    for sid in page:
        assert (sid in nearby) == (sid in expected)
        if sid in expected:
            assert nearby.where(sid) == expected[sid]
    # ids not looked up first, and every id against the set
    assert all(sid in nearby for sid in expected) and nearby.members() == set(expected)
    assert all(sid not in nearby for sid in range(601, 700)) and "x" not in nearby
    with pytest.raises(KeyError):
        nearby.where(10_000)
    none = NearbySites.none()
    none.locate([1, 2])
    assert 1 not in none and not none.members()


def test_one_grid_asked_with_several_radii_answers_each_as_a_fresh_grid(scan):
    sites = _sites(4)
    grid = SiteGrid(sites)
    for radius in (2000, 100, 700, 2000, 5000, 250):
        got = grid.nearest(531_100.0, 179_900.0, radius)
        fresh = SiteGrid(sites).nearest(531_100.0, 179_900.0, radius)
        assert all(a.tolist() == b.tolist() for a, b in zip(got, fresh, strict=True)), radius
        assert len(got[0]) and max(got[1]) <= radius


@pytest.mark.parametrize("seed", [1, 2])
def test_a_search_given_the_passing_services_finds_the_same_as_one_filtered_after(seed, scan):
    sites = _sites(seed)
    grid = SiteGrid(sites)
    passing = np.random.default_rng(seed).random(10_001) < 0.4  # by service id
    for radius in (700, 2000):
        services, metres, at = grid.nearest(531_000.0, 180_000.0, radius)
        keep = passing[services]
        # given as each site's (its service's), read along the grid
        got = grid.nearest(531_000.0, 180_000.0, radius, grid.passing_sites(passing))
        expected = sorted(zip(*(a[keep].tolist() for a in (services, metres, at)), strict=True))
        assert sorted(zip(*(a.tolist() for a in got), strict=True)) == expected
        assert 0 < len(expected) < len(services)


def test_points_around_a_few_sites_find_them_exactly_at_every_radius(scan):
    """Far from most sites (a London-sized directory's postcodes), a search answers from
    the blocks holding a site; at a block's edge it still finds a site just within the
    radius, and none just beyond it."""
    rng = random.Random(7)
    sites = [_Site(sid, rng.uniform(530_000, 531_000), rng.uniform(180_000, 181_000))
             for sid in range(1, 40)]  # fmt: skip
    grid = SiteGrid(sites)
    for _ in range(300):
        x, y = rng.uniform(520_000, 541_000), rng.uniform(170_000, 191_000)
        d = min(math.hypot(s.x - x, s.y - y) for s in sites)
        for radius in (50.0, 1999.0, 2000.0, 3999.0, 4000.0, 4001.0, d - 0.01, d + 0.01):
            if radius <= 0:
                continue
            services, _, _ = grid.nearest(x, y, radius)
            expected = {s.service_id for s in sites if math.hypot(s.x - x, s.y - y) <= radius}
            assert set(services.tolist()) == expected, (x, y, radius)
            # the quick check never says none when there is one; site by site, it is exact
            none = grid.none_near(x, y, radius)
            assert not (none and expected), (x, y, radius)
            if scan == "site-by-site":
                assert none == (not expected), (x, y, radius)
