"""Parts of answers shared by many requests, encoded to JSON once.

A patch answer is mostly parts that are the same for every postcode in a ward (each service
as the patch lists it, the funding summary), worked out once and kept. Wrapped in
:class:`Shared`, such a part also keeps its JSON: serialising an answer then copies those
bytes (``orjson.Fragment``) instead of walking the same dicts again for every request. A
Shared part is a read-only mapping, so code reading the answer (GeoJSON, CSV) is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import orjson


class Shared(Mapping[str, Any]):
    """A dict kept between requests and never changed, with its JSON made once, when first
    asked for. Kept by :func:`kept_json`, it holds its JSON alone: its dict is read back from
    the JSON by whoever asks for it (the CSV and GeoJSON answers), not kept beside it. So
    any key read decodes the whole JSON (22 µs on a demo patch's answer): a route writing
    JSON must not read the answer's members first (``web/resources/patch/routes.py``)."""

    __slots__ = ("_data", "_json")

    def __init__(self, data: dict[str, Any]) -> None:
        self._data: dict[str, Any] | None = data
        self._json: bytes | None = None

    def _dict(self) -> dict[str, Any]:
        data = self._data
        return orjson.loads(self._json) if data is None else data  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dict()!r})"

    def json(self) -> bytes:
        encoded = self._json
        if encoded is None:
            encoded = self._json = compact(orjson.dumps(self._data, default=encode))
        return encoded


class Extended(Shared):
    """A Shared part made of another's JSON and a few more keys after its own: its JSON is
    spliced together without decoding the first, its dict made only if someone reads it
    (the patch lists each service as its kept answer plus why it is there).

    Only the few keys' JSON is kept, not the spliced whole: a kept patch entry costs a few
    hundred bytes beside the service's own answer rather than a second copy of it (a
    splice is one copy of the bytes, made when the answer is written)."""

    __slots__ = ("_base", "_extra", "_tail")

    def __init__(
        self,
        base: bytes | tuple[bytes, ...],
        extra: dict[str, Any] | None,
        tail: bytes | None = None,
    ) -> None:
        super().__init__({})
        #: the first's JSON, whole or in parts to be joined (a service's answer, kept as
        #: its own bytes and parts shared with other services: usecases/patch/index.py)
        self._base = (base,) if isinstance(base, bytes) else base
        self._extra = extra
        #: the extra keys' JSON (an object), once made, or as given when ``extra`` is None
        self._tail = tail
        self._data = None

    def _dict(self) -> dict[str, Any]:
        if self._data is None:
            extra = self._extra if self._extra is not None else orjson.loads(self._tail or b"{}")
            self._data = {**orjson.loads(b"".join(self._base)), **extra}
        return self._data

    def json(self) -> bytes:
        tail = self._tail
        if tail is None:
            tail = self._tail = compact(orjson.dumps(self._extra, default=encode))
            self._extra = None  # read back from the JSON if asked
        parts = self._base
        if tail == b"{}":
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if parts == (b"{}",):
            return tail
        return b"".join((*parts[:-1], memoryview(parts[-1])[:-1], b",", memoryview(tail)[1:]))


class Joined(Shared):
    """A Shared part kept as its JSON in parts, joined each time it is written: parts that
    many such answers hold in common stay one bytes object each (a patch's awards: each
    award's entry is the same bytes in every ward that lists it, where joined once each
    ward held a copy of every entry). Read as a mapping, it is decoded from the joined
    JSON."""

    __slots__ = ("_parts",)

    def __init__(self, parts: tuple[bytes, ...]) -> None:
        super().__init__({})
        self._data = None
        self._parts = parts

    def _dict(self) -> dict[str, Any]:
        return orjson.loads(self.json())  # type: ignore[no-any-return]

    def json(self) -> bytes:
        return b"".join(self._parts)


class Members(NamedTuple):
    """A dict's members as JSON pieces to follow an object's own keys (:func:`members_json`):
    each ``,"key":`` and then its value's JSON, a Shared part's as its own bytes (not a
    copy); where each key's value is among the pieces; and the bytes of the pieces made
    here (the Shared parts' are counted where they are kept)."""

    pieces: tuple[bytes, ...]
    at: dict[str, int]
    own: int


def members_json(mapping: Mapping[str, Any]) -> Members:
    """``mapping``'s members as JSON pieces (:class:`Members`). orjson's errors (text it
    cannot encode) are the caller's."""
    pieces: list[bytes] = []
    at: dict[str, int] = {}
    own = 0
    for key, value in mapping.items():
        name = b"," + orjson.dumps(key) + b":"
        shared = isinstance(value, Shared | SharedList)
        encoded = value.json() if shared else compact(orjson.dumps(value, default=encode))
        at[key] = len(pieces) + 1
        pieces += (name, encoded)
        own += len(name) + (0 if shared else len(encoded))
    return Members(tuple(pieces), at, own)


class Spliced(Shared):
    """An answer written as its own keys (a dict, encoded each time it is written) and then
    members kept as JSON (:class:`Members`), in one join: the kept bytes are copied once,
    not encoded again (a patch with nothing nearby: the place's geography, then the rest of
    the answer as kept for the place). Read as a mapping, a member's value is decoded from
    its own JSON when asked for (the GeoJSON and CSV answers read only the services). Its
    keys and the members' are distinct."""

    __slots__ = ("_head", "_members")

    def __init__(self, head: dict[str, Any], members: Members) -> None:
        super().__init__({})
        self._data = None
        self._head = head
        self._members = members

    def __getitem__(self, key: str) -> Any:
        if key in self._head:
            return self._head[key]
        return orjson.loads(self._members.pieces[self._members.at[key]])

    def __iter__(self) -> Iterator[str]:
        yield from self._head
        yield from self._members.at

    def __len__(self) -> int:
        return len(self._head) + len(self._members.at)

    def _dict(self) -> dict[str, Any]:
        return dict(self.items())

    def json(self) -> bytes:
        head = orjson.dumps(self._head, default=encode)
        pieces = self._members.pieces
        if len(head) > 2:
            return b"".join((memoryview(head)[:-1], *pieces, b"}"))
        if not pieces:
            return head
        return b"".join((b"{", memoryview(pieces[0])[1:], *pieces[1:], b"}"))


class SharedList(Sequence[Any]):
    """A list made as its JSON array at once (a patch's page of services, spliced from
    each service's kept bytes): serialising the answer copies the array's bytes (one
    ``orjson.Fragment``) instead of calling back for each item. Read as a sequence (the
    GeoJSON and CSV answers, tests), its items are decoded from the JSON when first asked
    for."""

    __slots__ = ("_items", "_json", "_length")

    def __init__(self, encoded: bytes, length: int) -> None:
        self._json = encoded
        self._length = length  # how many items the array holds (known without decoding)
        self._items: list[Any] | None = None

    def _list(self) -> list[Any]:
        if self._items is None:
            self._items = orjson.loads(self._json)
        return self._items

    def __getitem__(self, index: Any) -> Any:
        return self._list()[index]

    def __len__(self) -> int:
        return self._length

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SharedList):
            return self._list() == other._list()
        return isinstance(other, list) and self._list() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list()!r})"

    def json(self) -> bytes:
        return self._json


def compact(encoded: bytes) -> bytes:
    """A copy of orjson's output at its own size: orjson's bytes keep the capacity of its
    write buffer (about 8 KB for a 1 KB answer), which adds up in what is kept."""
    return bytes(memoryview(encoded))


def encode(value: Any) -> Any:
    """orjson's ``default`` hook: a Shared part as its JSON, verbatim."""
    if isinstance(value, (Shared, SharedList)):
        return orjson.Fragment(value.json())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def plain(value: Any) -> Any:
    """The standard library json's ``default`` hook: a Shared part as a dict."""
    if isinstance(value, Shared):
        return dict(value)
    if isinstance(value, SharedList):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class Kept(dict[Any, Any]):
    """Answers kept between requests, bounded by an estimate of their bytes, not by their
    number: when the next would take the total past ``limit``, every kept one is dropped and
    keeping starts afresh (the kept boundaries' rule, usecases/geography.py). One bigger
    than the whole limit is answered, not kept. The estimate is the caller's (a kept
    answer's JSON, times what its dicts cost beside it; an array's bytes)."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.used = 0

    def keep(self, key: Any, value: Any, size: int) -> Any:
        """``value``, kept under ``key`` when it fits."""
        if size > self.limit:
            return value
        if self.used + size > self.limit:
            self.clear()
        self[key] = value
        self.used += size
        return value

    def clear(self) -> None:
        super().clear()
        self.used = 0


#: what a part kept as its JSON costs beside the JSON's bytes (the objects holding them)
KEPT_JSON_OVERHEAD = 150


def kept_json(part: Shared) -> int:
    """Keep ``part`` as its JSON alone (its dicts let go: they cost about three times the
    JSON) and return the bytes it then holds, for a :class:`Kept` cache's estimate."""
    encoded = part.json()
    part._data = None
    return len(encoded) + KEPT_JSON_OVERHEAD
