"""Source ``demo-mopac-decisions``: one grant per real MOPAC decision row, and the boroughs'
LCPF programmes as placeholder services. Which organisation a recipient is and which
programme a decision belongs to follow ``data/decisions.toml``."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from directory.demo.common import (
    DECISIONS,
    Borough,
    collective,
    council,
    fy_end,
    fy_start,
    read_csv,
    themes_in,
)
from directory.demo.loader import DemoData, norm
from directory.ingest.records import Batch, Context, GrantRecord, OrganisationRecord, ServiceRecord
from directory.ingest.values import months_between, parse_financial_year, slug
from geodata.sources import data_file


class Decisions:
    def __init__(
        self, data_dir: Path, ctx: Context, data: DemoData, boroughs: list[Borough],
        orgs_360: dict[str, OrganisationRecord], today: date,
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.data = data
        self.rules = data.decisions
        self.anchor = today.replace(day=1)
        self.rows = read_csv(data_file(data_dir, DECISIONS))
        self.boroughs = boroughs
        self.by_code = {b.code: b for b in boroughs}
        self.orgs_360 = orgs_360
        self.batch = Batch()
        self.orgs: dict[str, OrganisationRecord] = {}

    def _add(self, org: OrganisationRecord) -> OrganisationRecord:
        return self.orgs.setdefault(org.ref, org)

    def recipient(self, row: dict[str, str]) -> OrganisationRecord:
        """The organisation a decision's recipient is: the first of decisions.toml's
        recipient rules that matches (an org-id from the 360Giving file, an organisation of
        organisations.csv, a collective placeholder), else the borough's council, a
        collective placeholder for recipients that name many organisations, or an ``org:``
        ref from the name."""
        name = row["recipient_name"].strip()
        kind = row["recipient_type"].strip().casefold()
        for rule in self.rules.recipients:
            if not rule.matches(name):
                continue
            if rule.org_id is not None:
                if rule.org_id in self.orgs_360:
                    return self._add(copy.deepcopy(self.orgs_360[rule.org_id]))
            elif rule.organisation is not None:
                return self._add(self.data.organisation(rule.organisation))
            elif rule.collective is not None:
                return self._add(collective(*rule.collective))
        codes = [c for c in row["borough_gss_codes"].split(";") if c.strip()]
        if (
            any(word.casefold() in kind for word in self.rules.council_words)
            and len(codes) == 1
            and codes[0] in self.by_code
        ):
            org = council(self.data, self.by_code[codes[0]])
            if org.name == name:
                return self._add(org)
        org_type = self.organisation_type(kind)
        if any(word.casefold() in name.casefold() for word in self.rules.collective_words):
            return self._add(collective(name, org_type))
        return self._add(OrganisationRecord(ref="org:" + slug(name), name=name, type=org_type))

    def organisation_type(self, kind: str) -> str:
        for org_type, words in self.rules.organisation_types:
            if any(word.casefold() in kind for word in words):
                return org_type
        return "other"

    def programme(self, text: str) -> str:
        """The programme id for a decision's programme text, which carries totals and notes
        in brackets: the first of decisions.toml's programme rules that matches, else the
        text before the brackets (a new programme of its own)."""
        words = norm(text)
        for rule in self.rules.programmes:
            if rule.matches(words):
                return self.ctx.programme(rule.programme)
        return self.ctx.programme(text.split("(")[0].strip(" ,;") or text)

    def funds_borough_programmes(self, row: dict[str, str]) -> bool:
        text = f"{row['programme']} {row['recipient_name']}"
        return self.rules.borough_programme_words in norm(text) and any(
            word.casefold() in text.casefold() for word in self.rules.borough_programme_any_of
        )

    def grant(self, row: dict[str, str]) -> GrantRecord:
        ctx = self.ctx
        notes: list[str] = []
        demo = False
        awarded = date.fromisoformat(row["date_signed"]) if row["date_signed"].strip() else None
        fy_text = row["financial_year"].strip()
        financial_year = start = end = None
        if fy_text:
            years = [parse_financial_year(part) for part in fy_text.split("-")]
            financial_year = years[0]
            start, end = fy_start(years[0]), fy_end(years[-1])
            demo = True
            span = f"{years[0]} to {years[-1]}" if len(years) > 1 else years[0]
            notes.append(
                f"Dates assumed: the decision gives no start or end date, so the grant is shown "
                f"as running over the financial year{'s' if len(years) > 1 else ''} {span} "
                f"(1 April {start.year} – 31 March {end.year}); this is why it is marked demo."
            )
            if len(years) > 1:
                notes.append(
                    f"Multi-year decision: the financial year shown is the first of {span}."
                )
        else:
            notes.append("The source states no financial year or dates.")
        amount_text = row["amount_gbp"].strip()
        amount = Decimal(amount_text) if amount_text else None
        if row["amount_note"].strip():
            notes.append(f"Amount note: {row['amount_note'].strip()}.")
        if amount is None:
            notes.append("No amount is published for this award.")
        codes = [c.strip() for c in row["borough_gss_codes"].split(";") if c.strip()]
        scope = row["area_scope"].strip()
        if codes:
            areas = [a for c in codes for a in ctx.areas(c)]
        elif (area := self.rules.area_of(scope)) is not None:
            areas = ctx.areas(area)
        else:  # (not all of London: counted as unplaced, not spread over every borough)
            areas = []
            notes.append(
                f"Area: {scope}; the boroughs are not named in the source, so no area is shown."
            )
        service_refs: list[str] = []
        if self.funds_borough_programmes(row):
            service_refs = [f"lcpf-{b.code}" for b in self.boroughs if b.bcu_name]
            notes.append(
                "Linked to the 32 boroughs' LCPF programmes (placeholder services: the per-borough "
                "allocations are in the decision's appendix, not in this data)."
            )
        parent_ref, why = self.rules.part_of.get(row["record_id"].strip(), (None, None))
        if parent_ref is not None:
            notes.append(
                f"Part of {parent_ref}'s budget ({why}): counted there, shown here as paid "
                "through it, so the money is not counted twice."
            )
        regrant = self.rules.regrant_of(row["recipient_type"])
        if regrant is not None:
            notes.append(f"Awarded for onward distribution as grants ({regrant[1]}).")
        recipient = self.recipient(row)
        if recipient.name != row["recipient_name"].strip():
            notes.append(f"Recipient shown as {recipient.name}.")
        description = " ".join(
            [
                f"{row['purpose'].strip()}.",
                f"Recipient as named in the decision: {row['recipient_name'].strip()} "
                f"({row['recipient_type'].strip()}).",
                f"Programme as stated: {row['programme'].strip()}.",
                *notes,
            ]
        )
        decision = row["decision_ref"].strip()
        title = (
            " ".join(part for part in (decision, row["decision_title"].strip()) if part)
            + f" – {row['recipient_name'].strip()}"
        )
        return GrantRecord(
            ref=row["record_id"].strip(),
            funder_ref=self.rules.funder,
            recipient_ref=recipient.ref,
            title=title[:500],
            description=description,
            programme=self.programme(row["programme"]),
            service_refs=service_refs,
            amount=amount,
            awarded=awarded,
            start=start,
            end=end,
            duration_months=months_between(start, end) if start and end else None,
            financial_year=financial_year,
            areas=areas,
            parent_ref=parent_ref,
            regrant_type=regrant[0] if regrant is not None else None,
            source_url=row["source_url"].strip() or None,
            demo=demo,
        )

    def lcpf_services(self, purposes: list[str]) -> list[ServiceRecord]:
        themes = themes_in(self.ctx, "; ".join(purposes))
        services = []
        for b in self.boroughs:
            if b.bcu_name is None:  # the City of London receives no LCPF borough funding
                continue
            services.append(
                ServiceRecord(
                    ref=f"lcpf-{b.code}",
                    name=f"LCPF programme – {b.name}",
                    organisation_ref=self._add(council(self.data, b)).ref,
                    description=(
                        f"{b.name}'s local crime-prevention programme funded through the London "
                        "Crime Prevention Fund (direct borough funding). Placeholder record: it "
                        "stands for the borough's LCPF-funded projects, which the published "
                        "decisions do not list; themes are taken from the decisions' stated "
                        "purpose, and the verification date is illustrative."
                    ),
                    themes=themes,
                    coverage=self.ctx.areas(b.code),
                    last_verified=self.anchor - timedelta(weeks=4 + int(b.code[-2:]) % 20),
                    demo=True,
                )
            )
        return services

    def build(self) -> Batch:
        self._add(self.data.organisation(self.rules.funder))
        lcpf_purposes = []
        for number, row in enumerate(self.rows, start=2):  # the header is row 1
            try:
                grant = self.grant(row)
            except ValueError as error:
                self.batch.error(str(error), row=number, value=row.get("record_id"))
                continue
            self.batch.grants.append(grant)
            if grant.service_refs:
                lcpf_purposes.append(row["purpose"])
        if lcpf_purposes:
            self.batch.services.extend(self.lcpf_services(lcpf_purposes))
        refs = {grant.ref for grant in self.batch.grants}
        for decision, (budget, _) in self.rules.part_of.items():
            for ref in (decision, budget) if decision in refs else (decision,):
                if ref not in refs:  # (decisions.toml's [[part_of]] names no decision held)
                    self.batch.error(f"decisions.toml part_of: no decision {ref}.", value=ref)
        self.batch.organisations = list(self.orgs.values())
        return self.batch
