"""Delivery sites as arrays sorted by 250 m grid cell: the sites near a point are a few
slices (one per column of cells), their distances one vector operation.

At 100,000 services London has about 70,000 sites and a 2 km circle holds about a
thousand: looping over them in Python was most of a warm patch's time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from directory.store.repositories.geography import CELL_METRES, CELL_ROW, cell_columns, grid_cell

#: a grid of this many sites or fewer is scanned whole for the sites near a point
SCAN_ALL = 1024
#: the side of the blocks a grid notes as holding a site
BLOCK_METRES = 2000
#: a grid of this many sites or fewer (a directory of London's size today) answers whether
#: any is near a point by trying each in Python: numpy's cost per call is more than the
#: loop's, and a fifth of the demo's postcodes have a site within the blocks of their
#: radius but none within the radius (36 µs a patch for them, with numpy)
CHECK_EACH = 64
#: a grid whose sites' cells span at most this many (columns by rows: London's are about
#: 230 by 180) keeps where each cell's sites start as a table (:attr:`SiteGrid.first`); a
#: wider one (a national directory's) finds a point's columns by binary search
TABLE_CELLS = 1_000_000


#: no sites (read-only: shared)
_NO_SLICE = np.empty(0, dtype=np.int64)
_NO_SLICE.flags.writeable = False


class SiteGrid:
    """Sites (anything with ``service_id``, ``x`` and ``y``) in grid-cell order."""

    def __init__(self, sites: Sequence[Any]) -> None:
        keys = np.fromiter((grid_cell(s.x, s.y) for s in sites), dtype=np.int64, count=len(sites))
        order = np.argsort(keys, kind="stable")  # a cell's sites in the order given
        self.sites = [sites[i] for i in order]
        self.cells = keys[order]
        self.x = np.fromiter((s.x for s in self.sites), dtype=np.float64, count=len(sites))
        self.y = np.fromiter((s.y for s in self.sites), dtype=np.float64, count=len(sites))
        self.service = np.fromiter(
            (s.service_id for s in self.sites), dtype=np.int64, count=len(sites)
        )
        #: whether a site's service has another site (most have one: for them a search
        #: needs no sort to find each service's nearest)
        ids, counts = np.unique(self.service, return_counts=True)
        self.shared = np.isin(self.service, ids[counts > 1])
        self.any_shared = bool(self.shared.any())  # (if none, no search looks)
        self._rings: dict[int, np.ndarray] = {}
        #: ``first[c, r]``: the position of the first site in the c-th column of cells
        #: from ``origin``'s at its r-th row or later (``first[c, -1]``: the column's end),
        #: so that a point's columns' slices are two strided reads of it rather than a
        #: binary search of the grid per column and end (15 µs of a patch at 100,000
        #: services, its cache lines scattered over the grid's keys)
        self.origin = (0, 0)
        self.first: np.ndarray | None = None
        if len(sites):
            columns, rows = self.cells // CELL_ROW, self.cells % CELL_ROW
            self.origin = (int(columns.min()), int(rows.min()))
            width = int(columns.max()) - self.origin[0] + 1
            height = int(rows.max()) - self.origin[1] + 1
            if width * (height + 1) <= TABLE_CELLS:
                starts = (np.arange(width) + self.origin[0]) * CELL_ROW + self.origin[1]
                keys = starts[:, None] + np.arange(height + 1)[None, :]
                self.first = np.searchsorted(self.cells, keys.ravel()).reshape(keys.shape)
        #: the sites' positions sorted by service, and their services so sorted
        #: (:meth:`positions_of`, made when first asked)
        self._by_service: tuple[np.ndarray, np.ndarray] | None = None
        #: each site's service's place in the patch's order (:meth:`set_ranks`)
        self.ranks: np.ndarray | None = None
        #: the sites' (x, y, service id), for a grid small enough to check site by site
        self._points = (
            list(zip(self.x.tolist(), self.y.tolist(), self.service.tolist(), strict=True))
            if len(sites) <= CHECK_EACH
            else None
        )
        #: the 2 km blocks holding a site: a point with none within its radius's blocks
        #: has nothing near it, known from a few set lookups (most of London's postcodes
        #: in a directory of London's size)
        blocks = np.unique(
            np.stack((self.x // BLOCK_METRES, self.y // BLOCK_METRES), axis=1), axis=0
        ).tolist()
        #: by ring (1 or 2): the blocks with a block holding a site within that many
        #: blocks of them, so that a point's check is one set lookup
        self._reach = {
            ring: {
                (int(bx) + dx, int(by) + dy)
                for bx, by in blocks
                for dx in range(-ring, ring + 1)
                for dy in range(-ring, ring + 1)
            }
            for ring in (1, 2)
        }

    def __len__(self) -> int:
        return len(self.sites)

    def positions_of(self, service_id: int) -> np.ndarray:
        """The positions in ``sites`` of one service's sites, in grid order: two binary
        searches of the sites' services sorted (made when first asked, once per grid), not
        a scan of every site."""
        if self._by_service is None:
            order = np.argsort(self.service, kind="stable")
            self._by_service = (order, self.service[order])
        order, services = self._by_service
        start, end = np.searchsorted(services, [service_id, service_id + 1])
        return np.sort(order[start:end])

    def nearest_site_of(self, service_id: int, x: float, y: float) -> tuple[int, float] | None:
        """(position, squared distance in m², as a float) of the service's site nearest
        (x, y), the first in grid order of those at the same distance, worked out as
        :meth:`nearest` works it out; None for a service without a site."""
        at = self.positions_of(service_id)
        if not len(at):
            return None
        dx, dy = self.x[at] - x, self.y[at] - y
        squared = dx * dx + dy * dy
        best = int(np.argmin(squared))
        return int(at[best]), float(squared[best])

    def set_ranks(self, order: np.ndarray) -> None:
        """Note each site's service's place in the patch's order (``order``: service id →
        place), so that ordering a point's sites reads it along the grid, not from the
        order of every service at random (:meth:`NearbySites.ordered`)."""
        self.ranks = order[self.service] if len(self.sites) else np.empty(0, dtype=np.int64)

    def passing_sites(self, passing: np.ndarray) -> np.ndarray:
        """``passing`` (a boolean array over service ids) for each site, in grid order."""
        return passing[self.service]

    def _slices(self, x: float, y: float, ring: int) -> tuple[np.ndarray, np.ndarray]:
        """The start and end positions of the sites of each column of cells within
        ``ring`` cells of (x, y)'s."""
        if self.first is None:
            bounds = self._columns(ring) + grid_cell(x, y)
            starts = self.cells.searchsorted(bounds[:, 0], side="left")
            return starts, self.cells.searchsorted(bounds[:, 1], side="right")
        first = self.first
        column = int(x // CELL_METRES) - self.origin[0]
        row = int(y // CELL_METRES) - self.origin[1]
        rows = first.shape[1] - 1  # (its last is each column's end)
        west, east = max(column - ring, 0), min(column + ring + 1, first.shape[0])
        south, north = min(max(row - ring, 0), rows), min(max(row + ring + 1, 0), rows)
        if west >= east:
            return _NO_SLICE, _NO_SLICE
        return first[west:east, south], first[west:east, north]

    def _columns(self, ring: int) -> np.ndarray:
        """The first and last cell keys of each column of cells within ``ring`` of a point,
        less the point's own cell key (the same for every point: kept per ring)."""
        found = self._rings.get(ring)
        if found is None:
            centre = (ring + 1) * CELL_METRES  # a point far enough from the grid's edge
            columns = np.array(cell_columns(centre, centre, ring), dtype=np.int64)
            found = self._rings[ring] = columns - grid_cell(centre, centre)
        return found

    def none_near(self, x: float, y: float, radius: float) -> bool:
        """Whether no site is within ``radius`` of (x, y), as far as the blocks tell (for
        radii up to two blocks; a bigger one is not checked: False); in a grid of
        CHECK_EACH sites or fewer, exactly (the distance worked out as :meth:`nearest`
        does)."""
        reach = self._reach.get(math.ceil(radius / BLOCK_METRES))
        if reach is not None and (int(x // BLOCK_METRES), int(y // BLOCK_METRES)) not in reach:
            return True
        if self._points is None:
            return False
        limit = radius * radius
        for sx, sy, _ in self._points:
            dx, dy = sx - x, sy - y
            if dx * dx + dy * dy <= limit:
                return False
        return True

    def nearest(
        self, x: float, y: float, radius: float, passing: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each service with a site within ``radius`` metres of (x, y) (and, given
        ``passing``, a boolean array over the grid's sites, each its service's, as
        :meth:`passing_sites` makes, passing it: read along the grid, not at random), once:
        (service ids,
        distances in whole metres, positions of its nearest site in ``sites``), in no
        particular order (a patch orders them by distance, and sorting a thousand ids by
        id cost a third of the search). Of a service's sites at the same distance, the
        first in grid order."""
        if self.none_near(x, y, radius):
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        if self._points is not None:
            return self._nearest_each(x, y, radius, passing)
        if len(self.sites) <= SCAN_ALL:
            # few sites (a borough's or London's directory today): every one's distance
            # costs less than finding the cells' slices
            dx, dy = self.x - x, self.y - y
            squared = dx * dx + dy * dy
            inside = squared <= radius * radius
            if passing is not None:
                inside &= passing
            at = inside.nonzero()[0]
            squared, services = squared[at], self.service[at]
        else:
            starts, ends = self._slices(x, y, math.ceil(radius / CELL_METRES))
            lengths = ends - starts
            past = lengths.cumsum()  # (each column's end in the positions below)
            total = int(past[-1]) if len(past) else 0
            # the columns' slices as one array of positions: each column's start, then
            # counting on (a few vector operations, not a Python loop over the columns)
            at = np.arange(total) + (starts - (past - lengths)).repeat(lengths)
            dx, dy = self.x[at] - x, self.y[at] - y
            squared = dx * dx + dy * dy
            inside = squared <= radius * radius
            if passing is not None:
                inside &= passing[at]
            # the positions inside, found once (not once per array a mask selects from); the
            # services of those only. (Here and on the patch's path, numpy's methods rather
            # than its functions: the functions' dispatch cost 1-2 µs a call more)
            kept = inside.nonzero()[0]
            at, squared = at[kept], squared[kept]
            services = self.service[at]
        if not len(at):
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        if self.any_shared and (shared := self.shared[at]).any():
            # a service with several sites here keeps its nearest: by service, then
            # distance, then grid order (lexsort is stable), the first of each
            several = np.flatnonzero(shared)
            chosen = several[np.lexsort((squared[several], services[several]))]
            first = np.ones(len(chosen), dtype=bool)
            first[1:] = services[chosen][1:] != services[chosen][:-1]
            keep = np.concatenate((np.flatnonzero(~shared), chosen[first]))
            services, squared, at = services[keep], squared[keep], at[keep]
        metres = np.rint(np.sqrt(squared)).astype(np.int64)
        return services, metres, at

    def _nearest_each(
        self, x: float, y: float, radius: float, passing: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`nearest` for a grid of CHECK_EACH sites or fewer, site by site: the same
        distances (the same float operations), each service's nearest site, the first in
        grid order of those at the same distance."""
        assert self._points is not None
        limit = radius * radius
        best: dict[int, tuple[float, int]] = {}
        for at, (sx, sy, sid) in enumerate(self._points):
            dx, dy = sx - x, sy - y
            squared = dx * dx + dy * dy
            if squared > limit or (passing is not None and not passing[at]):
                continue
            held = best.get(sid)
            if held is None or squared < held[0]:
                best[sid] = (squared, at)
        found = list(best.values())
        services = np.fromiter(best, dtype=np.int64, count=len(best))
        squared_found = np.array([squared for squared, _ in found], dtype=np.float64)
        metres = np.rint(np.sqrt(squared_found)).astype(np.int64)
        return services, metres, np.array([at for _, at in found], dtype=np.int64)
