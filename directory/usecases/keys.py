"""API keys and roles: make, list and revoke keys; tell who a request's key belongs to.

A key's text is ``lfsd_<prefix>_<secret>``: the prefix (12 hex digits) finds its row, the
secret (``secrets.token_urlsafe``, 256 bits) proves it. The text is shown once, when the
key is made; the directory keeps the prefix and a salted scrypt hash of the secret with
the hash's parameters (``scrypt$n=16384,r=8,p=1$<salt>$<hash>``, base64), so parameters
can be raised later without breaking the keys already given out. Hashes are compared in
constant time (``hmac.compare_digest``). The prefix is not a secret (``directory keys list``
shows it): a request with an unknown prefix is answered without hashing anything, so that
a flood of made-up keys costs no scrypt work; only a known prefix's secret is hashed.

Roles: ``admin`` (everything), ``officer`` (MOPAC and borough staff: imports; later
opportunities and moderation) and ``editor`` (one organisation's own records; later).

Nothing here imports Flask: the web layer hands in the ``Authorization`` header's value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from directory.errors import (
    AuthenticationError,
    ExpiredKeyError,
    InvalidKeyError,
    KeyRequestError,
    RevokedKeyError,
    WrongRoleError,
)

ROLES = ("admin", "officer", "editor")
KEY_PREFIX = "lfsd"
#: scrypt's cost parameters for new keys (RFC 7914's interactive figures: 16 MiB, ~50 ms)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_NAME = 120
#: a key's last use is written at most this often (a write per request is not worth it)
USE_RESOLUTION = timedelta(minutes=1)
_KEY_TEXT = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,100}})")
_HASH_TEXT = re.compile(r"scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)")


class Keys(Protocol):
    """What the use cases need of the key store (directory.store.repositories.keys)."""

    def organisation_id(self, key: str) -> int | None: ...
    def merged_into(self, key: str) -> Any: ...
    def add(self, values: dict[str, Any]) -> int: ...
    def get(self, key_id: int) -> Any: ...
    def by_prefix(self, prefix: str) -> Any: ...
    def all(self) -> list[Any]: ...
    def revoke(self, key_id: int, at: datetime) -> None: ...
    def note_use(self, key_id: int, at: datetime) -> None: ...


@dataclass(frozen=True)
class Principal:
    """Who a request's key belongs to."""

    key_id: int
    name: str
    role: str
    organisation_id: int | None


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``text`` is the only copy of its secret there will ever be."""

    id: int
    name: str
    role: str
    organisation: str | None
    expires_at: datetime | None
    text: str
    #: what to tell whoever made it, e.g. that the organisation named was merged into another
    note: str | None = None


# -- hashing --------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_secret(
    secret: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
    salt: bytes | None = None,
) -> str:  # fmt: skip
    """The stored form of a secret: scrypt with a random salt, parameters alongside."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES)
    return f"scrypt$n={n},r={r},p={p}${_b64(salt)}${_b64(digest)}"


def secret_matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (by the parameters stored with it)."""
    match = _HASH_TEXT.fullmatch(stored)
    if match is None:
        return False
    n, r, p = (int(match[i]) for i in (1, 2, 3))
    salt, expected = base64.b64decode(match[4]), base64.b64decode(match[5])
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=256 * n * r + 2**20
    )
    return hmac.compare_digest(digest, expected)


# -- managing keys (``directory keys``) -------------------------------------------------------


def now() -> datetime:
    """UTC, naive, to the second (as the directory's other timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def create_key(
    keys: Keys, *, role: str, organisation: str | None = None, name: str | None = None,
    expires: date | None = None, at: datetime | None = None,
) -> NewKey:  # fmt: skip
    """Make a key. An editor's key needs ``organisation`` (a ref or id; a merged
    organisation's gives a key for the one it was merged into, and says so), no other
    role's may have one; ``expires`` (a date after today) is the first day, from 00:00 UTC, the
    key no longer works."""
    at = at or now()
    if role not in ROLES:
        raise KeyRequestError(f"The role must be one of {', '.join(ROLES)}, not {role!r}.")
    organisation_id, note = None, None
    if role == "editor":
        if not organisation:
            raise KeyRequestError(
                "An editor's key writes for one organisation: give --organisation REF."
            )
        organisation_id = keys.organisation_id(organisation)
        if organisation_id is None and (alias := keys.merged_into(organisation)) is not None:
            # a merged organisation's ref or old id (`directory organisations merge`): the
            # key writes for the organisation it was merged into, as its older keys do
            note = (
                f"{organisation} was merged into {alias.organisation_ref} "
                f"({alias.organisation_name}) on {alias.merged_at:%Y-%m-%d}: the key writes "
                f"for {alias.organisation_ref}."
            )
            organisation_id, organisation = alias.organisation_id, alias.organisation_ref
        if organisation_id is None:
            raise KeyRequestError(f"No organisation has the ref or id {organisation!r}.")
    elif organisation:
        raise KeyRequestError(
            f"Only an editor's key belongs to an organisation; an {role}'s key may not."
        )
    expires_at = None
    if expires is not None:
        if expires <= at.date():
            raise KeyRequestError(f"The expiry date {expires} is not after today.")
        expires_at = datetime.combine(expires, time())
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    name = (name or f"{role}-{prefix}").strip()
    if not 0 < len(name) <= MAX_NAME:
        raise KeyRequestError(f"A key's name must be 1 to {MAX_NAME} characters.")
    if not name.isprintable():  # (one printed, as by `keys list`, could forge lines of its own)
        raise KeyRequestError(
            "A key's name must be one line of text, without a new line, a tab or any other "
            "control character."
        )
    key_id = keys.add(
        {
            "name": name, "role": role, "organisation_id": organisation_id, "prefix": prefix,
            "secret_hash": hash_secret(secret), "created_at": at, "expires_at": expires_at,
        }
    )  # fmt: skip
    return NewKey(
        key_id, name, role, organisation if organisation_id else None, expires_at,
        f"{KEY_PREFIX}_{prefix}_{secret}", note,
    )  # fmt: skip


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def key_body(row: Any) -> dict[str, Any]:
    """A key as ``directory keys list`` shows it: never its secret or hash."""
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "organisation": row.organisation_ref,
        "prefix": row.prefix,
        "created_at": _stamp(row.created_at),
        "expires_at": _stamp(row.expires_at),
        "revoked_at": _stamp(row.revoked_at),
        "last_used_at": _stamp(row.last_used_at),
    }


def list_keys(keys: Keys) -> list[dict[str, Any]]:
    return [key_body(row) for row in keys.all()]


def revoke_key(keys: Keys, key_id: int, at: datetime | None = None) -> dict[str, Any]:
    """Revoke a key (at once, for good); revoking a revoked key changes nothing."""
    if keys.get(key_id) is None:
        raise KeyRequestError(f"No key has the id {key_id}.")
    keys.revoke(key_id, at or now())
    return key_body(keys.get(key_id))


# -- authenticating requests -------------------------------------------------------------------


def claimed_key(keys: Keys, authorization: str | None) -> int | None:
    """The id of the key whose prefix a well-formed ``Authorization`` header names, whether
    or not its secret matches (no hashing: the rate limit decides with it before a secret is
    checked); None for no key, a malformed one or an unknown prefix."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    match = _KEY_TEXT.fullmatch(token.strip()) if scheme.lower() == "bearer" else None
    row = keys.by_prefix(match[1]) if match is not None else None
    return None if row is None else int(row.id)


def authenticate(keys: Keys, authorization: str | None, at: datetime | None = None) -> Principal:
    """Who the ``Authorization`` header's bearer key belongs to; raises an
    AuthenticationError (401) when there is none, or it is malformed, unknown, revoked or
    expired. Revoked and expired are told only to a holder of the right secret."""
    at = at or now()
    scheme, _, token = (authorization or "").strip().partition(" ")
    if not scheme:
        raise AuthenticationError("Send an API key: Authorization: Bearer <key>.")
    if scheme.lower() != "bearer":
        raise AuthenticationError(
            f"API keys are sent as Authorization: Bearer <key>, not as {scheme[:20]!r}."
        )
    token = token.strip()
    if not token:
        raise AuthenticationError("Send an API key: Authorization: Bearer <key>.")
    match = _KEY_TEXT.fullmatch(token)
    if match is None:
        raise InvalidKeyError(
            f"That is not an API key of this directory: they look like {KEY_PREFIX}_<prefix>_<secret>."
        )
    row = keys.by_prefix(match[1])
    if row is None or not secret_matches(match[2], row.secret_hash):
        raise InvalidKeyError("No API key of this directory matches the one sent.")
    if row.revoked_at is not None:
        raise RevokedKeyError(f"This key ({row.name}) was revoked on {row.revoked_at:%Y-%m-%d}.")
    if row.expires_at is not None and row.expires_at <= at:
        raise ExpiredKeyError(f"This key ({row.name}) expired on {row.expires_at:%Y-%m-%d}.")
    if row.last_used_at is None or at - row.last_used_at >= USE_RESOLUTION:
        keys.note_use(row.id, at)
    return Principal(row.id, row.name, row.role, row.organisation_id)


def authorise(principal: Principal, *roles: str) -> Principal:
    """The principal, if its role is one of ``roles`` (an admin may do anything); else
    WrongRoleError (403)."""
    if principal.role == "admin" or principal.role in roles:
        return principal
    allowed = " or ".join(sorted({"admin", *roles}))
    raise WrongRoleError(
        f"This key ({principal.name}) is an {principal.role}'s; this needs an {allowed}'s key."
    )
