"""Every postcode's row kept in the worker: a few numpy arrays (11 MB for London's
190,000 live and terminated postcodes), so a postcode lookup costs no database round trip.

On PostgreSQL that round trip was most of a postcode lookup (about 0.7 ms of 1.1 ms,
in-process, with the database server on the same two cores), and every patch by postcode
starts with one. SQLite answers in-process already, so the table is kept there only when
``DIRECTORY_POSTCODES_IN_MEMORY=on`` (see ``Settings.keep_postcodes``).

The table belongs to a geography snapshot: postcodes change only with a geography
release, which builds a new snapshot (and so a new table).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from directory.store.repositories.geography import PostcodeRow

#: columns with few distinct values, kept as small integer codes into a list of values
_CODED = (
    "outcode", "status", "borough_code", "ward_code", "positional_quality", "introduced",
    "terminated",
)  # fmt: skip
#: columns kept as float64 (None as NaN)
_FLOATS = ("easting", "northing", "lat", "lon")
#: the widest canonical postcode the table holds (the column is VARCHAR(8))
_KEY_BYTES = 8


def _float_or_none(number: float) -> float | None:
    return None if number != number else number  # NaN: NULL


def _ascii(text: bytes) -> str:
    return text.decode("ascii")


def _narrowed(codes: np.ndarray, distinct: int) -> np.ndarray:
    width = np.uint8 if distinct <= 256 else np.uint16 if distinct <= 65_536 else np.uint32
    return codes.astype(width)


class PostcodeTable:
    """Postcode rows by canonical postcode, sorted for a binary search. Built a chunk of
    rows at a time, column by column (no Python loop over the rows, and no more than a
    chunk of rows held as Python objects): London's in about half a second, after about a
    second reading them."""

    def __init__(self, chunks: Iterable[Sequence[Any]]) -> None:
        parts: dict[str, list[np.ndarray]] = {name: [] for name in PostcodeRow._fields}
        numbering: dict[str, dict[Any, int]] = {name: {} for name in _CODED}
        for rows in chunks:
            for name, column in zip(PostcodeRow._fields, zip(*rows, strict=True), strict=True):
                if name in numbering:
                    number = numbering[name]
                    for value in dict.fromkeys(column):  # new values take the next numbers
                        number.setdefault(value, len(number))
                    values = np.fromiter(map(number.__getitem__, column), np.int64, len(column))
                elif name in _FLOATS:
                    values = np.array(column, dtype=np.float64)  # None → nan
                else:  # canonical, display
                    values = np.array(column, dtype="S8" if name == "canonical" else "S9")
                parts[name].append(values)

        def joined(name: str, dtype: Any) -> np.ndarray:
            return np.concatenate(parts[name]) if parts[name] else np.empty(0, dtype=dtype)

        keys = joined("canonical", "S8")
        order = np.argsort(keys, kind="stable")
        #: each canonical postcode, sorted, as the number its bytes padded to eight are
        #: (big-endian: the same order), in a plain array: a lookup is a ``bisect`` (about
        #: 1 µs; numpy's ``searchsorted`` of a bytes key took 2-7)
        self._keys = array("Q", np.frombuffer(keys[order].tobytes(), ">u8").astype(np.uint64))
        columns = {"display": joined("display", "S9")[order]}
        columns |= {name: joined(name, np.float64)[order] for name in _FLOATS}
        columns |= {
            name: _narrowed(joined(name, np.int64)[order], len(numbering[name])) for name in _CODED
        }
        #: each row's other fields as one record (PostcodeRow's order, canonical aside): a
        #: lookup reads them with one index and one ``item()``, not one numpy scalar a field
        #: (6.6 µs a lookup then, most of it those thirteen reads)
        fields = PostcodeRow._fields[1:]
        self._rows = np.empty(len(keys), dtype=[(name, columns[name].dtype) for name in fields])
        for name in fields:
            self._rows[name] = columns[name]
        #: per field, in that order: how a stored value becomes the row's (code → value, a
        #: float's NaN → None, bytes → str)
        self._decoders: tuple[Any, ...] = tuple(
            list(numbering[name]).__getitem__ if name in _CODED
            else _float_or_none if name in _FLOATS
            else _ascii
            for name in fields
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def nbytes(self) -> int:
        return len(self._keys) * self._keys.itemsize + self._rows.nbytes

    def get(self, canonical: str) -> PostcodeRow | None:
        """The row of one canonical postcode (``SE17PB``), or None."""
        try:
            key = canonical.encode("ascii")
        except UnicodeEncodeError:
            return None
        if not key or len(key) > _KEY_BYTES:
            return None
        number = int.from_bytes(key, "big") << (8 * (_KEY_BYTES - len(key)))
        at = bisect_left(self._keys, number)
        if at >= len(self._keys) or self._keys[at] != number:
            return None
        stored = self._rows[at].item()
        decoders = self._decoders
        return PostcodeRow(
            canonical, *[decode(v) for decode, v in zip(decoders, stored, strict=True)]
        )

    def rows(self, canonicals: Iterable[str]) -> dict[str, PostcodeRow]:
        """The rows of the postcodes found, by canonical postcode (as
        ``GeographyRepository.postcodes``)."""
        found = {}
        for canonical in set(canonicals):
            row = self.get(canonical)
            if row is not None:
                found[canonical] = row
        return found
