"""SQL behind funding summaries, funding against need, programmes and outcomes, and the
writes of the need figures (recorded crime, population)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, distinct, func, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from directory.store.db import streamed
from directory.store.models import (
    AreaPopulation,
    CrimeCount,
    Grant,
    GrantArea,
    GrantService,
    Location,
    Organisation,
    Outcome,
    Programme,
    Service,
    ServiceArea,
    ServiceTheme,
    Theme,
)
from directory.store.repositories import among

_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class FundingQueries:
    """Read-only queries (Core connection, plain rows)."""

    def __init__(self, connection: Any) -> None:
        self.db = connection

    # -- grants --------------------------------------------------------------------------
    def grants(self) -> list[Row[Any]]:
        """Every listed grant with its programme and recipient (a few full scans; the use
        case keeps the result per data version)."""
        recipient = Organisation.__table__.alias("recipient")
        funder = Organisation.__table__.alias("funder")
        return list(streamed(self.db,
            select(
                Grant.id, Grant.ref, Grant.title, Grant.programme_id, Grant.amount_pence, Grant.start,
                Grant.end, Grant.awarded, Grant.duration_months, Grant.financial_year, Grant.parent_ref,
                Grant.demo, Grant.regrant_type,
                Programme.name.label("programme_name"),
                Programme.community_safety.label("programme_community_safety"),
                recipient.c.ref.label("recipient_ref"),
                recipient.c.name.label("recipient_name"),
                funder.c.ref.label("funder_ref"),
                funder.c.name.label("funder_name"),
            )
            .join(recipient, recipient.c.id == Grant.recipient_id)
            .join(funder, funder.c.id == Grant.funder_id)
            .outerjoin(Programme, Programme.id == Grant.programme_id)
            .where(Grant.withdrawn_at.is_(None))
            .order_by(Grant.id)
        ))  # fmt: skip

    def grant_areas(self) -> list[Row[Any]]:
        return self._of_listed_grants(GrantArea.grant_id, GrantArea.area_code)

    def grant_services(self) -> list[Row[Any]]:
        return self._of_listed_grants(GrantService.grant_id, GrantService.service_id)

    def _of_listed_grants(self, grant_id: Any, other: Any) -> list[Row[Any]]:
        """(grant id, ``other``) of a link table, for the grants not withdrawn, in order."""
        listed = select(grant_id, other).join(Grant, Grant.id == grant_id)
        query = listed.where(Grant.withdrawn_at.is_(None)).order_by(grant_id, other)
        return list(streamed(self.db, query))

    def programmes(self) -> list[Row[Any]]:
        return self.db.execute(select(Programme.__table__).order_by(Programme.id)).all()

    # -- need ----------------------------------------------------------------------------
    def crime_months(self) -> list[date]:
        return list(
            self.db.execute(select(CrimeCount.month).distinct().order_by(CrimeCount.month))
            .scalars()
            .all()
        )

    def crime_totals(self, first: date, last: date) -> list[Row[Any]]:
        """Recorded offences per area between two months (first days), both included."""
        return self.db.execute(
            select(
                CrimeCount.area_code,
                func.sum(CrimeCount.count).label("offences"),
                func.count(distinct(CrimeCount.month)).label("months"),
            )
            .where(CrimeCount.month >= first, CrimeCount.month <= last)
            .group_by(CrimeCount.area_code)
        ).all()

    def crime_month_totals(self) -> list[Row[Any]]:
        """Recorded offences per area and month (every category summed): a few rows per
        borough and loaded month, read once per data version so that any 12-month window
        is dictionary work."""
        return self.db.execute(
            select(
                CrimeCount.month,
                CrimeCount.area_code,
                func.sum(CrimeCount.count).label("offences"),
            )
            .group_by(CrimeCount.month, CrimeCount.area_code)
            .order_by(CrimeCount.month, CrimeCount.area_code)
        ).all()

    def populations(self) -> list[Row[Any]]:
        """Every population estimate, newest reference date last."""
        return self.db.execute(
            select(AreaPopulation.__table__).order_by(
                AreaPopulation.area_code, AreaPopulation.reference_date
            )
        ).all()

    # -- outcomes ------------------------------------------------------------------------
    def service(self, service_id: int) -> Row[Any] | None:
        return self.db.execute(
            select(Service.id, Service.ref, Service.name, Service.withdrawn_at).where(
                Service.id == service_id
            )
        ).first()

    def grant_ends_of(self, service_id: int) -> list[Row[Any]]:
        """(end, programme_id, programme_community_safety, funder_ref) of the listed grants
        that list this service and have an end date: its funding's end, read as it is now."""
        funder = Organisation.__table__.alias("funder")
        return self.db.execute(
            select(
                Grant.end, Grant.programme_id,
                Programme.community_safety.label("programme_community_safety"),
                funder.c.ref.label("funder_ref"),
            )
            .join(GrantService, GrantService.grant_id == Grant.id)
            .join(funder, funder.c.id == Grant.funder_id)
            .outerjoin(Programme, Programme.id == Grant.programme_id)
            .where(
                GrantService.service_id == service_id,
                Grant.withdrawn_at.is_(None),
                Grant.end.is_not(None),
            )
        ).all()  # fmt: skip

    def outcomes_of(self, service_id: int) -> list[Row[Any]]:
        return self.db.execute(
            select(Outcome.__table__)
            .where(Outcome.service_id == service_id)
            .order_by(Outcome.period_start.desc().nulls_last(), Outcome.metric, Outcome.id)
        ).all()

    def listed_outcomes(self) -> list[Row[Any]]:
        """Outcomes of listed (not withdrawn) services, with the service's ref and name."""
        return self.db.execute(
            select(
                Outcome.__table__,
                Service.ref.label("service_ref"),
                Service.name.label("service_name"),
            )
            .join(Service, Service.id == Outcome.service_id)
            .where(Service.withdrawn_at.is_(None))
            .order_by(Outcome.service_id, Outcome.period_start, Outcome.metric, Outcome.id)
        ).all()

    def listed_services(self, ids: Sequence[int]) -> set[int]:
        """Those of these services that are listed (not withdrawn)."""
        out: set[int] = set()
        for chunk in _chunks(sorted(set(ids))):
            out.update(
                self.db.execute(
                    select(Service.id).where(
                        among(Service.id, chunk, self.db), Service.withdrawn_at.is_(None)
                    )
                ).scalars()
            )
        return out

    def service_places(self, ids: Sequence[int]) -> dict[int, set[str]]:
        """The area codes each service serves (coverage) or has a site in (ward, borough)."""
        out: dict[int, set[str]] = defaultdict(set)
        for chunk in _chunks(list(ids)):
            for sid, code in self.db.execute(
                select(ServiceArea.service_id, ServiceArea.area_code).where(
                    among(ServiceArea.service_id, chunk, self.db)
                )
            ):
                out[sid].add(code)
            for sid, ward, borough in self.db.execute(
                select(Location.service_id, Location.ward_code, Location.borough_code).where(
                    among(Location.service_id, chunk, self.db)
                )
            ):
                out[sid].update(c for c in (ward, borough) if c)
        return out

    def service_themes(self, ids: Sequence[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = defaultdict(list)
        for chunk in _chunks(list(ids)):
            for sid, theme in self.db.execute(
                select(ServiceTheme.service_id, ServiceTheme.theme_id)
                .where(among(ServiceTheme.service_id, chunk, self.db))
                .order_by(ServiceTheme.theme_id)
            ):
                out[sid].append(theme)
        return out

    def theme_names(self) -> dict[str, str]:
        return {r.id: r.name for r in self.db.execute(select(Theme.id, Theme.name))}


class NeedRepository:
    """Writes of the need figures, inside the import's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def crime_counts(self, months: Sequence[date]) -> dict[tuple[str, date, str, str], int]:
        rows = self.session.execute(
            select(
                CrimeCount.area_code, CrimeCount.month, CrimeCount.major_category,
                CrimeCount.minor_category, CrimeCount.count,
            ).where(CrimeCount.month.in_(list(months)))
        ).all()  # fmt: skip
        return {(r[0], r[1], r[2], r[3]): r[4] for r in rows}

    def replace_crime_months(self, months: Sequence[date], rows: list[dict[str, Any]]) -> None:
        self.session.execute(delete(CrimeCount).where(CrimeCount.month.in_(list(months))))
        for chunk in _chunks(rows, 2000):
            self.session.execute(insert(CrimeCount), list(chunk))

    def populations(self, dates: Sequence[date]) -> dict[tuple[str, date], dict[str, Any]]:
        rows = self.session.execute(
            select(AreaPopulation.__table__).where(AreaPopulation.reference_date.in_(list(dates)))
        ).all()
        return {(r.area_code, r.reference_date): r._asdict() for r in rows}

    def replace_populations(
        self, keys: Sequence[tuple[str, date]], rows: list[dict[str, Any]]
    ) -> None:
        for code, when in keys:
            self.session.execute(
                delete(AreaPopulation).where(
                    AreaPopulation.area_code == code, AreaPopulation.reference_date == when
                )
            )
        if rows:
            self.session.execute(insert(AreaPopulation), rows)
