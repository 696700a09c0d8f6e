"""SQL for API keys (``api_key``): add, list, find by prefix, revoke, note a use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from directory.store.models import ApiKey, Organisation
from directory.store.repositories.directory import as_id, find_alias


class KeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _select() -> Any:
        return select(ApiKey.__table__, Organisation.ref.label("organisation_ref")).outerjoin(
            Organisation, Organisation.id == ApiKey.organisation_id
        )

    def organisation_id(self, key: str) -> int | None:
        """An organisation by its ref, else by its numeric id (as the API addresses it)."""
        found = self.session.execute(
            select(Organisation.id).where(Organisation.ref == key)
        ).scalar()
        if found is None and (number := as_id(key)) is not None:
            found = self.session.execute(
                select(Organisation.id).where(Organisation.id == number)
            ).scalar()
        return found  # type: ignore[no-any-return]

    def merged_into(self, key: str) -> Row[Any] | None:
        """The alias a merged organisation's ref or old id is (``organisation_id``,
        ``organisation_ref`` and ``organisation_name`` of the one it names now, and
        ``merged_at``), or None."""
        return find_alias(self.session, key)

    def add(self, values: dict[str, Any]) -> int:
        return int(self.session.execute(insert(ApiKey).returning(ApiKey.id), [values]).scalar_one())

    def get(self, key_id: int) -> Row[Any] | None:
        return self.session.execute(self._select().where(ApiKey.id == key_id)).first()

    def by_prefix(self, prefix: str) -> Row[Any] | None:
        return self.session.execute(self._select().where(ApiKey.prefix == prefix)).first()

    def all(self) -> list[Row[Any]]:
        return list(self.session.execute(self._select().order_by(ApiKey.id)).all())

    def revoke(self, key_id: int, at: datetime) -> None:
        self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def note_use(self, key_id: int, at: datetime) -> None:
        self.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))
