"""Parts of answers shared by many requests, encoded to JSON once.

A patch answer is mostly parts that are the same for every postcode in a ward (each service
as the patch lists it, the funding summary), worked out once and kept. Wrapped in
:class:`Shared`, such a part also keeps its JSON: serialising an answer then copies those
bytes (``orjson.Fragment``) instead of walking the same dicts again for every request. A
Shared part is a read-only mapping, so code reading the answer (GeoJSON, CSV) is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson


class Shared(Mapping[str, Any]):
    """A dict kept between requests and never changed, with its JSON made once, when first
    asked for."""

    __slots__ = ("_data", "_json")

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self._json: bytes | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Shared({self._data!r})"

    def json(self) -> bytes:
        encoded = self._json
        if encoded is None:
            encoded = self._json = compact(orjson.dumps(self._data, default=encode))
        return encoded


class Extended(Shared):
    """A Shared part made of another's JSON and a few more keys after its own: its JSON is
    spliced together without decoding the first, its dict made only if someone reads it
    (the patch lists each service as its kept answer plus why it is there)."""

    __slots__ = ("_base", "_extra")

    def __init__(self, base: bytes, extra: dict[str, Any]) -> None:
        super().__init__({})
        self._base, self._extra = base, extra
        self._data = None  # type: ignore[assignment]

    def _dict(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {**orjson.loads(self._base), **self._extra}
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"Extended({self._dict()!r})"

    def json(self) -> bytes:
        encoded = self._json
        if encoded is None:
            extra = orjson.dumps(self._extra, default=encode)
            if extra == b"{}":
                encoded = self._base
            elif self._base == b"{}":
                encoded = compact(extra)
            else:
                encoded = b"".join((self._base[:-1], b",", extra[1:]))
            self._json = encoded
        return encoded


def compact(encoded: bytes) -> bytes:
    """A copy of orjson's output at its own size: orjson's bytes keep the capacity of its
    write buffer (about 8 KB for a 1 KB answer), which adds up in what is kept."""
    return bytes(memoryview(encoded))


def encode(value: Any) -> Any:
    """orjson's ``default`` hook: a Shared part as its JSON, verbatim."""
    if isinstance(value, Shared):
        return orjson.Fragment(value.json())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def plain(value: Any) -> Any:
    """The standard library json's ``default`` hook: a Shared part as a dict."""
    if isinstance(value, Shared):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
