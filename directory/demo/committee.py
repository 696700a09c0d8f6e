"""Source ``demo-committee-services``: the services the Committee's 2020 letter names
(``data/services.toml``) and one illustrative council service per BCU
(``data/borough_services.csv``), with their grants, outcomes and patch contacts. The
records come from the data files; this module places them in time (verification dates and
the current financial year are counted from the first of the current month), at real
postcodes and in the real boroughs, and adds a SPOC contact for every borough."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from directory.demo.common import (
    ILLUSTRATIVE,
    SITE_NAME,
    Borough,
    council,
    fy_end,
    fy_start,
    pick_postcodes,
    site,
)
from directory.demo.loader import DemoData, DemoDataError
from directory.ingest.records import (
    Batch,
    ContactRecord,
    Context,
    GrantRecord,
    LocationRecord,
    OrganisationRecord,
    OutcomeRecord,
    ServiceRecord,
)
from directory.ingest.values import financial_year_of, months_between, slug


class Committee:
    def __init__(
        self, data_dir: Path, ctx: Context, data: DemoData, boroughs: list[Borough], today: date,
    ) -> None:  # fmt: skip
        self.data_dir = data_dir
        self.ctx = ctx
        self.data = data
        self.boroughs = boroughs
        self.by_code = {b.code: b for b in boroughs}
        self.anchor = today.replace(day=1)
        self.current_fy = financial_year_of(self.anchor)
        self.batch = Batch()
        self.orgs: dict[str, OrganisationRecord] = {}
        self._check()
        #: borough code → the postcode of its illustrative delivery site
        self.sites = pick_postcodes(
            data_dir,
            {
                **{s.site.borough: s.site.outcode for s in data.services if s.site},
                **{s.borough_code: s.outcode for s in data.borough_services},
            },
        )

    def _check(self) -> None:
        """The data files' boroughs and BCUs are those of the London data."""
        for service in self.data.services:
            if service.site and service.site.borough not in self.by_code:
                raise DemoDataError(
                    f"{service.where}: site borough {service.site.borough!r} is not a London "
                    "borough's GSS code."
                )
        for s in self.data.borough_services:
            borough = self.by_code.get(s.borough_code)
            if borough is None:
                raise DemoDataError(
                    f"{s.where}: borough_code {s.borough_code!r} is not a London borough's GSS code."
                )
            if borough.bcu_name != s.bcu:
                raise DemoDataError(
                    f"{s.where}: {borough.name} is not in {s.bcu} BCU "
                    f"(it is in {borough.bcu_name or 'no Met'} BCU)."
                )

    @staticmethod
    def _resolve(
        where: str, what: str, resolve: Callable[[str], list[str]], text: str
    ) -> list[str]:
        """``resolve(text)`` (the context's areas or themes), its ValueError a DemoDataError."""
        try:
            return resolve(text)
        except ValueError as error:
            raise DemoDataError(f"{where}, {what}: {error}") from None

    def _site(self, where: str, ref: str, borough_code: str) -> LocationRecord:
        """The illustrative delivery site picked for the borough (see ``self.sites``)."""
        postcode = self.sites.get(borough_code)
        if postcode is None:
            raise DemoDataError(f"{where}: the postcode file has no postcode in {borough_code}.")
        try:
            return site(self.ctx, ref, postcode, SITE_NAME)
        except ValueError as error:
            raise DemoDataError(f"{where}, site: {error}") from None

    def _add(self, org: OrganisationRecord) -> str:
        self.orgs.setdefault(org.ref, org)
        return org.ref

    def verified(self, weeks_ago: int) -> date:
        return self.anchor - timedelta(weeks=weeks_ago)

    @property
    def stale_date(self) -> date:
        """Over two years ago: past the directory's stale age however it is configured."""
        return self.anchor - timedelta(days=800)

    def _grant(
        self, ref: str, funder: str, recipient: str, title: str, programme: str,
        amount: int | None, fy: str, areas: list[str], services: list[str], note: str,
        parent_ref: str | None = None, regrant_type: str | None = None,
    ) -> GrantRecord:  # fmt: skip
        start, end = fy_start(fy), fy_end(fy)
        return GrantRecord(
            ref=ref,
            funder_ref=funder,
            recipient_ref=recipient,
            title=title,
            description=f"{ILLUSTRATIVE}: {note} The amount and dates are invented for the demo.",
            programme=self.ctx.programme(programme),
            service_refs=services,
            amount=None if amount is None else Decimal(amount),
            awarded=start,
            start=start,
            end=end,
            duration_months=months_between(start, end),
            financial_year=fy,
            areas=areas,
            parent_ref=parent_ref,
            regrant_type=regrant_type,
            demo=True,
        )

    def organisations(self) -> None:
        """The organisations of organisations.csv that the services and grants name, in
        that file's order."""
        named = {s.organisation for s in self.data.services}
        named |= {ref for g in self.data.grants for ref in (g.funder, g.recipient)}
        for ref in self.data.organisations:
            if ref in named:
                self._add(self.data.organisation(ref))

    def named_services(self) -> None:
        ctx = self.ctx
        for s in self.data.services:
            locations = [self._site(s.where, s.site.ref, s.site.borough)] if s.site else []
            self.batch.services.append(
                ServiceRecord(
                    ref=s.ref,
                    name=s.name,
                    organisation_ref=s.organisation,
                    description=s.description,
                    themes=self._resolve(s.where, "themes", ctx.themes, s.themes),
                    coverage=self._resolve(s.where, "coverage", ctx.areas, s.coverage),
                    locations=locations,
                    min_age=s.min_age,
                    max_age=s.max_age,
                    eligibility=s.eligibility,
                    referral=s.referral,
                    email=s.email,
                    last_verified=self.verified(s.verified_weeks_ago),
                    demo=True,
                )
            )

    def named_grants(self) -> None:
        for g in self.data.grants:
            self.batch.grants.append(self.grant(g))

    def grant(self, g: Any) -> GrantRecord:
        return self._grant(
            g.ref, g.funder, g.recipient, g.title, g.programme, g.amount, g.financial_year,
            self._resolve(g.where, "areas", self.ctx.areas, g.areas), list(g.services), g.note,
            parent_ref=g.parent, regrant_type=g.regrant_type,
        )  # fmt: skip

    def borough_services(self) -> None:
        ctx = self.ctx
        mopac_ref = self.data.decisions.funder
        for s in self.data.borough_services:
            borough = self.by_code[s.borough_code]
            org = self._add(council(self.data, borough))
            stale = s.verified_weeks_ago is None
            self.batch.services.append(
                ServiceRecord(
                    ref=s.ref,
                    name=s.name,
                    organisation_ref=org,
                    description=(
                        f"{ILLUSTRATIVE}: {s.summary} in {borough.name} ({s.bcu} BCU). The "
                        f"organisation is real; the service, its site, ages, contact address and "
                        f"funding are invented to show how a borough service appears."
                        + (" Its last check is deliberately over two years old." if stale else "")
                    ),
                    themes=self._resolve(s.where, "themes", ctx.themes, s.themes),
                    coverage=ctx.areas(borough.code),
                    locations=[self._site(s.where, f"{s.ref}-site-1", borough.code)],
                    min_age=s.min_age,
                    max_age=s.max_age,
                    referral=s.referral,
                    email=s.email,
                    last_verified=self.stale_date
                    if s.verified_weeks_ago is None
                    else self.verified(s.verified_weeks_ago),
                    demo=True,
                )
            )
            self.batch.grants.append(
                self._grant(
                    f"{s.ref}-lcpf", mopac_ref, org,
                    f"{s.name} – LCPF {self.current_fy}", "LCPF",
                    s.lcpf_amount, self.current_fy, [borough.code], [s.ref],
                    f"LCPF direct borough funding for {s.name}.",
                )
            )  # fmt: skip

    def contacts(self) -> None:
        """A (fictional) SPOC for every borough, then contacts.csv's contacts."""
        for i, b in enumerate(self.boroughs):
            self.batch.contacts.append(
                ContactRecord(
                    area_code=self.ctx.areas(b.code)[0],
                    role="Borough SPOC",
                    name=f"Demo SPOC for {b.name} (fictional)",
                    email=f"spoc@{slug(b.name)}.example.gov.uk",
                    phone=f"020 7946 0{i:03d}",  # Ofcom's range reserved for drama
                    demo=True,
                    email_public=True,  # a role mailbox, not a person's
                )
            )
        for c in self.data.contacts:
            self.batch.contacts.append(
                ContactRecord(
                    area_code=self._resolve(c.where, "area", self.ctx.areas, c.area)[0],
                    role=c.role,
                    name=c.name,
                    email=c.email,
                    phone=c.phone,
                    demo=True,
                    email_public=True,  # role mailboxes (bcu-lead@…), not a person's
                )
            )

    def outcomes(self) -> None:
        for outcome in self.data.outcomes:
            self.batch.outcomes.append(
                OutcomeRecord(
                    service_ref=outcome.service,
                    metric=outcome.metric,
                    period_start=outcome.period_start,
                    period_end=outcome.period_end,
                    value=outcome.value,
                    target=outcome.target,
                    unit=outcome.unit,
                    report_type=outcome.report_type,
                    measured_on=outcome.measured_on,
                    demo=True,
                )
            )

    def build(self) -> Batch:
        self.organisations()
        self.named_services()
        self.named_grants()
        self.borough_services()
        self.contacts()
        self.outcomes()
        self.batch.organisations = list(self.orgs.values())
        return self.batch
