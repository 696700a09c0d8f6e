"""Open Referral ids: version 5 UUIDs made from the directory's refs, in one namespace, and
the way back from them (an import reading this directory's own export). Pure: imported by
the HSDS API (``directory.usecases.hsds``) and the importer's context alike."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: the project's namespace for version 5 UUIDs (fixed forever: ids derive from it)
NAMESPACE = uuid.UUID("6f1d2a58-3b7e-5c4a-9e0f-1d5c0b7a4e21")
_NAMESPACE_BYTES = NAMESPACE.bytes


def hsds_id(kind: str, *key: str) -> str:
    """The version 5 UUID of a kind of record and its keys, in :data:`NAMESPACE`: what
    ``str(uuid.uuid5(NAMESPACE, name))`` gives, at a third of its cost (the id index
    makes one or two per record)."""
    name = kind + ":" + (key[0] if len(key) == 1 else json.dumps(list(key)))
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _kept(ref: str) -> str | None:
    """A ref that is a UUID already (a record imported from HSDS), as the id it is kept
    as; None for any other ref (its id is made from it)."""
    if len(ref) >= 32:  # shorter is no UUID (and not worth an exception)
        try:
            return str(uuid.UUID(ref))
        except ValueError:
            pass
    return None


def _kept_or_made(ref: str, kind: str, *key: str) -> str:
    return _kept(ref) or hsds_id(kind, *key)


def service_uuid(ref: str) -> str:
    return _kept_or_made(ref, "service", ref)


def organization_uuid(ref: str) -> str:
    return _kept_or_made(ref, "organization", ref)


def location_uuid(service_ref: str, ref: str) -> str:
    """A delivery site belongs to one service (refs are unique per service): its id is
    the site's ref when that is a UUID, else made from both refs."""
    return _kept_or_made(ref, "location", service_ref, ref)


def made_from(rows: Mapping[str, Iterable[Any]]) -> dict[str, dict[str, Any]]:
    """The ids made from refs → what they were made from, by kind, from
    ``HsdsQueries.identifier_rows``: a service's ref, an organisation's, a site's (service
    ref, ref). Refs that are UUIDs are their own ids, and are left out, as is an id made
    from one ref that another record holds as its ref: that record answers to it (a copy
    an import made before this map was). An importer reads this directory's own export
    back through it."""
    made: dict[str, dict[str, Any]] = {}
    for kind in ("service", "organization", "location"):
        held = {kept for r in rows[kind] if (kept := _kept(r.ref))}
        if kind == "location":
            pairs = (
                (hsds_id(kind, r.service_ref, r.ref), (r.service_ref, r.ref))
                for r in rows[kind]
                if not _kept(r.ref)
            )
        else:
            pairs = ((hsds_id(kind, r.ref), r.ref) for r in rows[kind] if not _kept(r.ref))
        made[kind] = {made_id: source for made_id, source in pairs if made_id not in held}
    return made


def made_here(
    kind: str, item: Mapping[str, Any], service_id: str, codes: Callable[[str], Iterable[str]]
) -> bool:
    """Whether a ``funding`` or ``contacts`` item read back is one this directory's export
    made for the service ``service_id`` (from a grant funding it, a patch contact where it
    works), not one an import kept: its id is the one made from what its text names (the
    grant's ref at the end of the funding's ``source``; the contact's role and area in its
    ``title``, the area by its name, whose codes ``codes`` gives)."""
    item_id = item.get("id")
    if kind == "funding":
        source = str(item.get("source") or "")
        _, found, ref = source.rpartition("grant ")
        return bool(found) and hsds_id("funding", ref, service_id) == item_id
    if kind == "contacts":
        role, found, where = str(item.get("title") or "").rpartition(", ")
        return bool(found) and any(
            hsds_id("contact", service_id, code, role) == item_id for code in [where, *codes(where)]
        )
    return False
