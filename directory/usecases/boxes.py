"""Big spatial pages chosen in memory: the count and the ids of a page of ``GET /services``
with ``bbox`` and of the OGC API ``sites`` and ``services`` collections, worked out with
numpy over arrays of the directory's sites and services, then only the page's rows read
from the database by id.

At 100,000 services a whole-London box matches about 70,000 services: in SQL, counting
them (one index read of 70,000 entries) and sorting them by name to keep 100 cost 0.2–0.3 s
whatever the page. Here the sites are arrays (id, service, lon, lat, grid cell; by id, and
a permutation by cell for the same cell prefilter the SQL uses), the services arrays
indexed by id (listed, status, organisation) and the sort orders arrays of ids in the
database's own order (``ORDER BY name, id`` as the search sorts, so the collation is the
database's on SQLite and PostgreSQL alike): a page is a mask, one fancy index and a slice.

The arrays are built from the database once per data version (every change of the
directory adds a data release, :mod:`directory.store.repositories.search`'s
``data_version_id``), read again at every request, so an answer is the SQL path's answer for
the same data, never an older one. While the arrays of the current version are not built,
SQL answers (as fast for a small box) and a big box (``BIG_BOX_M2``) or a whole collection
starts their build: in a thread of its own when serving (``DIRECTORY_INDEX_REBUILD=
background``, the default: no request waits for it), else in the request. Once built they
answer any box. Filters the arrays do not hold (text, a point, grants' programme and dates,
``updated_since``, an area matched by its sites) leave the answer to SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from directory.store.repositories.search import Box, Filters, SearchQueries, cell_ranges
from directory.usecases.background import BackgroundJob
from directory.usecases.shared import Kept

#: a box (its padded British National Grid envelope) at least this big builds the arrays
#: when they are not built for the current data version (25 km²: at 100,000 services about
#: 1,100 sites, which SQL counts and sorts in a few milliseconds)
BIG_BOX_M2 = 25e6
#: the sorts a page can be chosen for in memory (those that do not depend on the request)
SORTS = ("name", "updated")
_NO_CELL = np.iinfo(np.int64).min


def supported(f: Filters) -> bool:
    """Whether the arrays can tell which services ``f`` matches."""
    return (
        f.text is None and f.near is None and f.programme is None and f.live_on is None
        and f.live_during is None and f.ends_between is None and f.updated_since is None
        and f.service_id is None
        and (f.area is None or not (f.area.site_wards or f.area.site_boroughs))
    )  # fmt: skip


def big(box: Box | None) -> bool:
    """A box worth building the arrays for (no box: a whole collection)."""
    if box is None:
        return True
    e0, n0, e1, n1 = box.bng_envelope
    return (e1 - e0) * (n1 - n0) >= BIG_BOX_M2


#: the bytes of finished OGC site features a BoxIndex keeps (:attr:`BoxIndex.features`)
#: when no settings say (DIRECTORY_FEATURES_CACHE_MB's default)
FEATURES_KEPT_BYTES = 16 << 20
#: what one kept site feature costs: its dicts and strings (measured: 100 features of the
#: generated directory, ~2.2 KB each by tracemalloc, rounded up)
FEATURE_BYTES = 2_500


class BoxIndex:
    """The sites and services of one data version as arrays."""

    def __init__(
        self, repo: SearchQueries, version: int | None, features_bytes: int = FEATURES_KEPT_BYTES
    ) -> None:
        self.version = version
        sites = repo.box_sites()  # by id
        columns = list(zip(*sites, strict=True)) if sites else [(), (), (), (), ()]
        self.site_id = np.array(columns[0], dtype=np.int64)
        self.site_service = np.array(columns[1], dtype=np.int64)
        self.lon = np.array(columns[2], dtype=np.float64)
        self.lat = np.array(columns[3], dtype=np.float64)
        cells = np.array([_NO_CELL if c is None else c for c in columns[4]], dtype=np.int64)
        self.by_cell = np.argsort(cells, kind="stable")
        self.cells = cells[self.by_cell]
        services = repo.box_services()  # in the order of sort=name
        ids, listed, statuses, organisations = (
            list(zip(*services, strict=True)) if services else [(), (), (), ()]
        )
        name_order = np.array(ids, dtype=np.int64)
        self.size = int(name_order.max()) + 1 if len(name_order) else 1
        self.exists = np.zeros(self.size, dtype=bool)
        self.exists[name_order] = True
        self.listed = np.zeros(self.size, dtype=bool)
        self.listed[name_order] = np.array(listed, dtype=bool)
        self.statuses = {status: number for number, status in enumerate(sorted(set(statuses)))}
        self.status = np.full(self.size, -1, dtype=np.int32)
        self.status[name_order] = np.array(
            list(map(self.statuses.__getitem__, statuses)), dtype=np.int32
        )
        self.organisation = np.full(self.size, -1, dtype=np.int64)
        self.organisation[name_order] = np.array(organisations, dtype=np.int64)
        # a site of a service the services' read did not see (another statement's snapshot
        # on PostgreSQL): not matched, rather than out of bounds
        self.site_service[self.site_service >= self.size] = 0
        self.orders: dict[str, np.ndarray] = {"name": name_order}
        #: what fewer requests need, read on first use (of the same data version: a request
        #: asks ``BoxIndexCache.get`` for the current version first)
        self._lazy: dict[Any, Any] = {}
        self._lock = threading.Lock()
        #: finished OGC site features of this data version, by (base URL, site id): a page
        #: whose sites were made before is answered without reading them again; dropped
        #: with the arrays when a newer version's are built
        self.features = Kept(features_bytes)

    def warm(self, repo: SearchQueries) -> None:
        """Read now what requests would read on first use (a background build does)."""
        for sort in SORTS:
            self.order(repo, sort)
        self.covered(repo, None)
        self.with_theme(repo, "")

    def _kept(self, key: Any, make: Callable[[], np.ndarray]) -> np.ndarray:
        found = self._lazy.get(key)
        if found is None:
            with self._lock:
                found = self._lazy.get(key)
                if found is None:
                    found = self._lazy[key] = make()
        return found

    def _mask_of(self, ids: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        mask[ids[ids < self.size]] = True
        return mask

    # -- what a request reads -------------------------------------------------------------
    def order(self, repo: SearchQueries, sort: str) -> np.ndarray:
        """Every service id in the order of ``sort``."""
        if sort in self.orders:
            return self.orders[sort]
        return self._kept(  # type: ignore[no-any-return]
            ("order", sort), lambda: np.array(repo.service_ids_sorted(sort), dtype=np.int64)
        )

    def _pairs(self, key: str, read: Callable[[], list[tuple[int, str]]]) -> Any:
        """(service ids, numbers of the codes, code → number) of (service id, code) rows."""

        def make() -> Any:
            pairs = read()
            codes: dict[str, int] = {}
            # 32 bits: ids and code numbers are far below 2**31 (half the memory: 5 MB at
            # 100,000 services)
            services = np.array([p[0] for p in pairs], dtype=np.int32)
            numbers = np.array([codes.setdefault(p[1], len(codes)) for p in pairs], dtype=np.int32)
            return services, numbers, codes

        return self._kept(key, make)

    def covered(self, repo: SearchQueries, codes: frozenset[str] | None) -> np.ndarray:
        """By service id: whether its coverage names one of ``codes`` (None: any area)."""
        services, numbers, known = self._pairs("coverage", repo.coverage_pairs)
        if codes is None:
            return self._kept("covered", lambda: self._mask_of(services))  # type: ignore[no-any-return]
        wanted = np.array([known[c] for c in codes if c in known], dtype=np.int32)
        return self._mask_of(services[np.isin(numbers, wanted)])

    def with_theme(self, repo: SearchQueries, theme: str) -> np.ndarray:
        """By service id: whether it has ``theme``."""
        services, numbers, themes = self._pairs("themes", repo.theme_pairs)
        if theme not in themes:
            return np.zeros(self.size, dtype=bool)
        return self._kept(  # type: ignore[no-any-return]
            ("theme", theme), lambda: self._mask_of(services[numbers == themes[theme]])
        )

    def services_matching(self, repo: SearchQueries, f: Filters) -> np.ndarray:
        """By service id: whether it matches ``f`` (its ``box`` aside)."""
        mask = self.exists.copy() if f.include_withdrawn else self.exists & self.listed
        if f.status is not None:
            mask &= self.status == self.statuses.get(f.status, -2)
        if f.organisation_id is not None:
            mask &= self.organisation == f.organisation_id
        for theme in f.themes:
            mask &= self.with_theme(repo, theme)
        if f.has_coverage:
            mask &= self.covered(repo, None)
        if f.area is not None:
            mask &= self.covered(repo, f.area.coverage_codes)
        return mask

    def sites_in(self, box: Box, *, cells: bool = True) -> np.ndarray:
        """Positions (in id order) of the sites inside ``box``: as the SQL tests it, the
        grid cell among the box's cell ranges (unless ``cells`` is false), then lon and lat
        between the box's (both ends included)."""
        if cells:
            ranges = np.array(cell_ranges(*box.bng_envelope), dtype=np.int64)
            starts = np.searchsorted(self.cells, ranges[:, 0], side="left")
            ends = np.searchsorted(self.cells, ranges[:, 1], side="right")
            at = [self.by_cell[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
            candidates = np.concatenate(at) if at else np.empty(0, dtype=np.int64)
        else:
            candidates = np.arange(len(self.site_id))
        lon, lat = self.lon[candidates], self.lat[candidates]
        inside = (lon >= box.min_lon) & (lon <= box.max_lon)
        inside &= (lat >= box.min_lat) & (lat <= box.max_lat)
        return candidates[inside]


class BoxIndexCache:
    """The process's :class:`BoxIndex`, for the newest data version asked about.

    With ``background`` (the application's, as ``DIRECTORY_INDEX_REBUILD`` says for the
    directory index), a request that finds no arrays of the current data version is answered
    by SQL while a thread builds them through ``reader`` (a context manager giving
    :class:`SearchQueries` on a connection of its own, all its reads in one snapshot): no
    request waits for a build. Without, the request builds them (tests: the answers of the
    arrays at once)."""

    def __init__(
        self,
        reader: Callable[[], AbstractContextManager[SearchQueries]] | None = None,
        *,
        background: bool = False,
        features_bytes: int = FEATURES_KEPT_BYTES,
        on_rebuild: Callable[[], None] | None = None,
    ) -> None:
        self._index: BoxIndex | None = None
        self.features_bytes = features_bytes
        #: called after arrays are built (heap.trim: the rows read are freed by then)
        self._on_rebuild = on_rebuild
        self._lock = threading.Lock()
        self.reader = reader
        self.background = background and reader is not None
        #: the background builds (SQL answers meanwhile; after a failure, 30 s later)
        self.builds = BackgroundJob("box-index", "building the box arrays in the background failed")

    def get(
        self, repo: SearchQueries, *, build: bool, version: int | None = None
    ) -> BoxIndex | None:
        """The arrays of the current data version: ``version`` when the caller knows it (the
        request's geography snapshot, checked every DIRECTORY_DATA_VERSION_TTL seconds, as
        the directory index is), else read now through ``repo``. Arrays of a newer version
        than ``version`` serve too (a build that saw a later write; SQL would read it as
        well). Built when ``build`` and not built yet (in the background: None meanwhile);
        else None (then SQL answers)."""
        if version is None:
            version = repo.data_version_id()
        index = self._index
        if index is not None and (index.version or 0) >= (version or 0):
            return index
        if not build:
            return None
        if self.background:
            self.builds.start(self._build)
            return None
        with self._lock:
            index = self._index
            if index is None or index.version != version:
                index = self._install(BoxIndex(repo, version, self.features_bytes))
                if self._on_rebuild is not None:
                    self._on_rebuild()
        return index

    def _install(self, index: BoxIndex) -> BoxIndex:
        current = self._index
        if current is None or (index.version or 0) >= (current.version or 0):
            self._index = index
        return index

    def _build(self) -> None:
        assert self.reader is not None
        with self.reader() as repo:
            index = BoxIndex(repo, repo.data_version_id(), self.features_bytes)
            index.warm(repo)
        with self._lock:
            self._install(index)
        if self._on_rebuild is not None:
            self._on_rebuild()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background build to finish (benchmarks, tests)."""
        self.builds.wait(timeout)


def service_page(
    cache: BoxIndexCache, repo: SearchQueries, f: Filters, *, sort: str, offset: int,
    limit: int, count_features: bool = False, version: int | None = None,
) -> tuple[list[int], int, int | None] | None:  # fmt: skip
    """The ids of a page of the services matching ``f`` in the order of ``sort``, how many
    match and (``count_features``, with a box) the GeoJSON features they make, one per site
    inside the box, as :meth:`SearchQueries.search` would answer; None when SQL must
    answer."""
    if sort not in SORTS or not supported(f) or (count_features and f.box is None):
        return None
    index = cache.get(repo, build=big(f.box), version=version)
    if index is None:
        return None
    mask = index.services_matching(repo, f)
    services_inside = None
    if f.box is not None:
        services_inside = index.site_service[index.sites_in(f.box)]
        mask &= index._mask_of(services_inside)
    order = index.order(repo, sort)
    matching = np.flatnonzero(mask[order])
    ids = order[matching[offset : offset + limit]].tolist()
    features = None
    if count_features and services_inside is not None:
        features = int(mask[services_inside].sum())  # the sites inside of services matched
    return ids, int(matching.size), features


def site_page(
    cache: BoxIndexCache, repo: SearchQueries, f: Filters, *, offset: int, limit: int,
    version: int | None = None,
) -> tuple[list[int], int, Kept] | None:  # fmt: skip
    """The ids of a page of the sites with a position whose service matches ``f`` (the box
    tested on the site itself), by id, and how many there are, as
    :meth:`SearchQueries.site_features` would answer, with the arrays' kept features
    (:attr:`BoxIndex.features`); None when SQL must answer."""
    if not supported(f):
        return None
    index = cache.get(repo, build=big(f.box), version=version)
    if index is None:
        return None
    matching = index.services_matching(repo, f)[index.site_service]
    if f.box is not None:
        # as site_features: the cell prefilter unless the box is one range of cells
        cells = len(cell_ranges(*f.box.bng_envelope)) > 1
        inside = np.zeros(len(index.site_id), dtype=bool)
        inside[index.sites_in(f.box, cells=cells)] = True
        matching &= inside
    positions = np.flatnonzero(matching)
    return (
        index.site_id[positions[offset : offset + limit]].tolist(),
        int(positions.size),
        index.features,
    )
