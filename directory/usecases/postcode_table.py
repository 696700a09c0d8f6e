"""Every postcode's row kept in the worker: a few numpy arrays (about 9 MB for London's
190,000 live and terminated postcodes), so a postcode lookup costs no database round trip.

On PostgreSQL that round trip was most of a postcode lookup (about 0.7 ms of 1.1 ms,
in-process, with the database server on the same two cores), and every patch by postcode
starts with one. SQLite answers in-process already, so the table is kept there only when
``DIRECTORY_POSTCODES_IN_MEMORY=on`` (see ``Settings.keep_postcodes``).

The table belongs to a geography snapshot: postcodes change only with a geography
release, which builds a new snapshot (and so a new table).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from directory.store.repositories.geography import PostcodeRow

#: columns with few distinct values, kept as small integer codes into a list of values
_CODED = ("status", "borough_code", "ward_code", "positional_quality", "introduced", "terminated")
#: columns kept as float64 (None as NaN)
_FLOATS = ("easting", "northing", "lat", "lon")
#: the widest canonical postcode the table holds (the column is VARCHAR(8))
_KEY_BYTES = 8


def _display(canonical: str) -> str:
    return f"{canonical[:-3]} {canonical[-3:]}"


class PostcodeTable:
    """Postcode rows by canonical postcode, sorted for a binary search."""

    def __init__(self, chunks: Iterable[Sequence[Any]]) -> None:
        keys: list[np.ndarray] = []
        floats: dict[str, list[np.ndarray]] = {name: [] for name in _FLOATS}
        codes: dict[str, list[np.ndarray]] = {name: [] for name in _CODED}
        coding: dict[str, dict[Any, int]] = {name: {} for name in _CODED}
        #: canonical → (display, outcode) where they are not the usual split of canonical
        self._unusual: dict[str, tuple[str, str]] = {}
        for rows in chunks:
            keys.append(np.array([r.canonical.encode("ascii") for r in rows], dtype="S8"))
            for name in _FLOATS:
                column = [getattr(r, name) for r in rows]
                floats[name].append(np.array(column, dtype=np.float64))  # None → nan
            for name in _CODED:
                known = coding[name]
                column = [known.setdefault(getattr(r, name), len(known)) for r in rows]
                codes[name].append(np.array(column, dtype=np.int32))
            for r in rows:
                if r.display != _display(r.canonical) or r.outcode != r.canonical[:-3]:
                    self._unusual[r.canonical] = (r.display, r.outcode)
        all_keys = np.concatenate(keys) if keys else np.empty(0, dtype="S8")
        order = np.argsort(all_keys, kind="stable")
        self._keys = all_keys[order]
        self._floats = {
            name: (np.concatenate(parts) if parts else np.empty(0))[order]
            for name, parts in floats.items()
        }
        self._codes = {}
        self._values: dict[str, list[Any]] = {}
        for name, parts in codes.items():
            width = np.uint8 if len(coding[name]) <= 256 else np.uint16
            if len(coding[name]) > 65_536:
                width = np.uint32
            joined = np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)
            self._codes[name] = joined[order].astype(width)
            self._values[name] = list(coding[name])  # dicts keep insertion order: code → value

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def nbytes(self) -> int:
        arrays = [self._keys, *self._floats.values(), *self._codes.values()]
        return sum(a.nbytes for a in arrays)

    def get(self, canonical: str) -> PostcodeRow | None:
        """The row of one canonical postcode (``SE17PB``), or None."""
        try:
            key = canonical.encode("ascii")
        except UnicodeEncodeError:
            return None
        if not key or len(key) > _KEY_BYTES:
            return None
        at = int(np.searchsorted(self._keys, key))
        if at >= len(self._keys) or self._keys[at] != key:
            return None
        unusual = self._unusual.get(canonical)
        display, outcode = unusual or (_display(canonical), canonical[:-3])
        values: dict[str, Any] = {"canonical": canonical, "display": display, "outcode": outcode}
        for name, array in self._floats.items():
            number = float(array[at])
            values[name] = None if number != number else number  # nan: NULL
        for name, array in self._codes.items():
            values[name] = self._values[name][int(array[at])]
        return PostcodeRow(**values)

    def rows(self, canonicals: Iterable[str]) -> dict[str, PostcodeRow]:
        """The rows of the postcodes found, by canonical postcode (as
        ``GeographyRepository.postcodes``)."""
        found = {}
        for canonical in set(canonicals):
            row = self.get(canonical)
            if row is not None:
                found[canonical] = row
        return found
