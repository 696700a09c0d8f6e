"""SQL for merging an organisation into another (``directory organisations merge``) and
for the aliases a merge leaves (``organisation_alias``): what names the duplicate, moving
it to the organisation kept, and the alias its ref, id and name live on as."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from directory.store.models import (
    ApiKey,
    Feedback,
    Grant,
    Opportunity,
    Organisation,
    OrganisationAlias,
    PracticeNote,
    Programme,
    Service,
)
from directory.store.repositories.directory import find_alias


class MergeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def organisation(self, org_id: int) -> Row[Any] | None:
        return self.session.execute(
            select(Organisation.__table__).where(Organisation.id == org_id)
        ).first()

    def alias(self, key: str) -> Row[Any] | None:
        return find_alias(self.session.connection(), key)

    # -- what names an organisation --------------------------------------------------------
    def services_of(self, org_id: int) -> list[int]:
        """Its services, withdrawn ones too, by id."""
        return list(
            self.session.execute(
                select(Service.id).where(Service.organisation_id == org_id).order_by(Service.id)
            ).scalars()
        )

    def grants_naming(self, org_id: int) -> list[Row[Any]]:
        """(id, ref, funder_id, recipient_id) of the grants it made or received."""
        return list(
            self.session.execute(
                select(Grant.id, Grant.ref, Grant.funder_id, Grant.recipient_id)
                .where((Grant.funder_id == org_id) | (Grant.recipient_id == org_id))
                .order_by(Grant.id)
            ).all()
        )

    def opportunities_of(self, org_id: int) -> list[Row[Any]]:
        return list(
            self.session.execute(
                select(Opportunity.id, Opportunity.ref, Opportunity.title)
                .where(Opportunity.funder_id == org_id)
                .order_by(Opportunity.id)
            ).all()
        )

    def keys_of(self, org_id: int) -> list[Row[Any]]:
        return list(
            self.session.execute(
                select(ApiKey.id, ApiKey.name).where(ApiKey.organisation_id == org_id)
                .order_by(ApiKey.id)
            ).all()
        )  # fmt: skip

    def feedback_and_notes(self, org_id: int) -> tuple[int, int]:
        """How many feedback messages and practice notes name it (``organisation_id``)."""
        return tuple(  # type: ignore[return-value]
            int(self.session.execute(select(func.count()).where(column == org_id)).scalar_one())
            for column in (Feedback.organisation_id, PracticeNote.organisation_id)
        )

    def programmes_of(self, ref: str) -> list[str]:
        """The programmes naming it as their funder (by ref)."""
        return list(
            self.session.execute(
                select(Programme.id).where(Programme.funder_ref == ref).order_by(Programme.id)
            ).scalars()
        )

    def aliases_of(self, org_id: int) -> list[str]:
        """The refs of organisations merged into it earlier."""
        return list(
            self.session.execute(
                select(OrganisationAlias.ref)
                .where(OrganisationAlias.organisation_id == org_id)
                .order_by(OrganisationAlias.ref)
            ).scalars()
        )

    # -- moving -------------------------------------------------------------------------------
    def move(self, old: int, new: int, old_ref: str, new_ref: str, at: datetime) -> None:
        """Everything naming organisation ``old`` names ``new`` (updated at ``at``)."""
        s = self.session
        s.execute(
            update(Service).where(Service.organisation_id == old)
            .values(organisation_id=new, updated_at=at)
        )  # fmt: skip
        s.execute(update(Grant).where(Grant.funder_id == old).values(funder_id=new, updated_at=at))
        s.execute(
            update(Grant).where(Grant.recipient_id == old)
            .values(recipient_id=new, updated_at=at)
        )  # fmt: skip
        s.execute(
            update(Opportunity).where(Opportunity.funder_id == old)
            .values(funder_id=new, updated_at=at)
        )  # fmt: skip
        s.execute(update(ApiKey).where(ApiKey.organisation_id == old).values(organisation_id=new))
        s.execute(
            update(Feedback).where(Feedback.organisation_id == old).values(organisation_id=new)
        )
        s.execute(
            update(PracticeNote).where(PracticeNote.organisation_id == old)
            .values(organisation_id=new)
        )  # fmt: skip
        s.execute(
            update(Programme).where(Programme.funder_ref == old_ref).values(funder_ref=new_ref)
        )
        s.execute(
            update(OrganisationAlias).where(OrganisationAlias.organisation_id == old)
            .values(organisation_id=new)
        )  # fmt: skip

    def set_search_text(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            self.session.execute(
                update(Service).where(Service.id == row["id"]).values(search_text=row["text"])
            )

    def fill(self, org_id: int, values: dict[str, Any], at: datetime) -> None:
        if values:
            self.session.execute(
                update(Organisation).where(Organisation.id == org_id)
                .values(**values, updated_at=at)
            )  # fmt: skip

    def delete_organisation(self, org_id: int) -> None:
        self.session.execute(delete(Organisation).where(Organisation.id == org_id))

    def add_alias(self, values: dict[str, Any]) -> None:
        self.session.execute(insert(OrganisationAlias), [values])
