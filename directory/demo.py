"""A realistic demo directory, built from real public data plus clearly marked illustrations.

Three sources, loaded in this order (``DEMO_SOURCES``):

``demo-mopac-decisions``
    The 31 real MOPAC grant decisions of ``grants/mopac_grant_decisions_curated.csv``: one
    grant per row, amounts exactly as published (blank stays blank). Where a grant's dates are
    not published, its start and end are taken as the financial year's 1 April – 31 March:
    such a grant is marked ``demo`` and its description says so. The London Crime Prevention
    Fund decisions that fund borough programmes are linked to one placeholder service per
    borough, "LCPF programme – <Borough>" (``demo``: the record stands for the borough's
    programme, whose projects are not in the data; its verification date is illustrative).
``demo-committee-services``
    The services named in the London Assembly Police and Crime Committee's 2020 letter
    (Safer London's Rescue and Response, Oxygen's knife-crime programme in Kingston funded
    through the Kingston Safer Neighbourhood Board, Victim Support's London Victim and
    Witness Service) and one illustrative service with a delivery site in each of the 12 Met
    BCUs, with grants, outcomes and patch contacts. The organisations are real; every
    invented detail (amounts, dates, sites, contacts, outcome figures) is marked ``demo``.
``demo-360giving``
    The 841 real 360Giving grants of ``grants/grantnav_fixture_grants_london_recipients_
    360giving.json``, read as they are (nothing marked ``demo``).

Organisations named in more than one source are built by one function (or copied from the
360Giving reading), so every source describes them identically and re-loading the demo finds
nothing to change. Dates that must be recent (``last_verified``, the current financial year)
are anchored on the first day of the current month, so the demo changes at most monthly.
"""

from __future__ import annotations

import copy
import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from directory.ingest.context import themes as theme_taxonomy
from directory.ingest.giving360 import read_360giving_json
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
from directory.ingest.values import financial_year_of, months_between, parse_financial_year, slug
from directory.progress import QUIET, Progress
from geodata.sources import data_file

DEMO_SOURCES = ("demo-mopac-decisions", "demo-committee-services", "demo-360giving")

#: the data directory's files the demo reads, by manifest key (geodata/data/sources.toml)
DECISIONS, GIVING360, POSTCODES, BCUS = "mopac_decisions", "giving360", "postcodes", "bcus"

LONDON = "E12000007"
MOPAC_REF = "GB-GOR-PC390"
LETTER = "the London Assembly Police and Crime Committee's 2020 letter"
ILLUSTRATIVE = "Illustrative demo record"
SITE_NAME = "Demo delivery site (illustrative)"

#: councils whose name is not "London Borough of <borough>"
_COUNCIL_NAMES = {
    "E09000001": "City of London Corporation",
    "E09000011": "Royal Borough of Greenwich",
    "E09000020": "Royal Borough of Kensington and Chelsea",
    "E09000021": "Royal Borough of Kingston upon Thames",
    "E09000033": "Westminster City Council",
}
KINGSTON = "E09000021"

#: decision recipients that are (led by) an organisation in the 360Giving file, by org-id
_RECIPIENTS_360 = (
    ("Bounce Back", "GB-CHC-1144297"),  # Bounce Back Foundation
    ("Consortium led by Advance", "GB-CHC-1086873"),  # Advance Advocacy & Non Violence …
    ("Advance Women's Centres", "GB-CHC-1086873"),
    ("GALOP", "GB-CHC-1077384"),  # GALOP Ltd
)
#: recipients that name several organisations at once (a collective placeholder)
_COLLECTIVE_BOROUGHS = "32 London boroughs"
#: LCPF decisions whose money funds the boroughs' own programmes
_LCPF_BOROUGH_WORDS = re.compile(r"direct|32 London boroughs", re.IGNORECASE)


@dataclass(frozen=True)
class Borough:
    code: str
    name: str
    bcu_name: str | None  # None for the City of London


# -- shared organisations (identical in every source) -----------------------------------------
def mopac() -> OrganisationRecord:
    return OrganisationRecord(
        ref=MOPAC_REF,
        name="Mayor's Office for Policing and Crime",
        type="police",
        website="https://www.london.gov.uk/programmes-strategies/mayors-office-policing-and-crime",
        description="The Mayor of London's office for policing and crime (MOPAC): sets the "
        "police and crime plan for London and commissions and funds community-safety services.",
    )


def council_name(borough: Borough) -> str:
    return _COUNCIL_NAMES.get(borough.code, f"London Borough of {borough.name}")


def council(borough: Borough) -> OrganisationRecord:
    name = council_name(borough)
    return OrganisationRecord(
        ref="org:" + slug(name),
        name=name,
        type="council",
        description=f"The local authority for {borough.name}.",
    )


def safer_london() -> OrganisationRecord:
    return OrganisationRecord(
        ref="org:safer-london",
        name="Safer London",
        type="voluntary",
        description="London charity working with young people affected by violence and "
        f"exploitation; runs the pan-London Rescue and Response service named in {LETTER}.",
    )


def london_community_foundation() -> OrganisationRecord:
    return OrganisationRecord(
        ref="org:london-community-foundation",
        name="London Community Foundation",
        type="voluntary",
        description="Grant-maker that administered and regranted the MOPAC Small Grants Fund "
        "for victims services (PCD 203).",
    )


def _collective(name: str, org_type: str) -> OrganisationRecord:
    return OrganisationRecord(
        ref="org:" + slug(name),
        name=name,
        type=org_type,
        description="Collective recipient as named in the MOPAC decision: it stands for several "
        "organisations, not a single one.",
    )


# -- small helpers ------------------------------------------------------------------------------
def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def read_boroughs(data_dir: Path) -> list[Borough]:
    """The 33 London local authorities with their Met BCU, from reference/met_bcus_boroughs.csv."""
    boroughs = []
    for row in _read_csv(data_file(data_dir, BCUS)):
        police = row["police_force"].strip()
        bcu = row["bcu_name"].strip() if police == "Metropolitan Police Service" else None
        boroughs.append(Borough(row["borough_gss_code"].strip(), row["borough_name"].strip(), bcu))
    return sorted(boroughs, key=lambda b: b.code)


def _fy_start(fy: str) -> date:
    return date(int(fy[:4]), 4, 1)


def _fy_end(fy: str) -> date:
    return date(int(fy[:4]) + 1, 3, 31)


def _norm(text: str) -> str:
    text = text.casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def themes_in(ctx: Context, text: str, default: str = "community-safety") -> list[str]:
    """Theme ids whose names or aliases (of five characters or more, so "da", "asb"… cannot
    match by accident) appear as whole words in ``text``; ``default`` when none do."""
    words = f" {_norm(text)} "
    found: list[str] = []
    for entry in theme_taxonomy():
        keys = {_norm(entry.name), *(_norm(k) for k in entry.keys)}
        for key in sorted(keys):
            if len(key) >= 5 and f" {key} " in words:
                for theme in ctx.themes(key):
                    if theme not in found:
                        found.append(theme)
                break
    return found or ctx.themes(default)


def _programme(ctx: Context, text: str) -> str:
    """The programme id for a decision's programme text, which carries totals and notes in
    brackets: the well-known programmes are recognised by their words, the rest by the text
    before the brackets (a new programme of its own)."""
    words = _norm(text)
    if "co commissioning" in words and "direct" not in words:
        return ctx.programme("LCPF co-commissioning")
    if "crime prevention fund" in words:
        return ctx.programme("LCPF")
    if "safer neighbourhood board" in words:
        return ctx.programme("Safer Neighbourhood Boards")
    if "surge" in words:
        return ctx.programme("Home Office surge")
    if words.startswith("violence reduction unit"):
        return ctx.programme("VRU")
    if "victims services" in words:
        return ctx.programme("victims services")
    return ctx.programme(text.split("(")[0].strip(" ,;") or text)


def _site(ctx: Context, ref: str, postcode: str, name: str) -> LocationRecord:
    found = ctx.postcode(postcode)
    found.ref = ref
    found.name = name
    found.demo = True
    return found


def pick_postcodes(data_dir: Path, wanted: dict[str, str]) -> dict[str, str]:
    """For each borough code → preferred outcode, the first live postcode (in sort order) of
    that outcode in that borough in the Code-Point file; any postcode of the borough when
    the outcode has none."""
    best: dict[str, str] = {}
    fallback: dict[str, str] = {}
    with data_file(data_dir, POSTCODES).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = row["laua_code"]
            if code not in wanted or row["positional_quality"] != "10":
                continue
            pc = row["postcode"]
            if row["outcode"] == wanted[code] and (code not in best or pc < best[code]):
                best[code] = pc
            if code not in fallback or pc < fallback[code]:
                fallback[code] = pc
    return {code: best.get(code) or fallback[code] for code in wanted if code in fallback}


# -- 1. the MOPAC decisions ---------------------------------------------------------------------
class _Decisions:
    def __init__(
        self, data_dir: Path, ctx: Context, boroughs: list[Borough],
        orgs_360: dict[str, OrganisationRecord], today: date,
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.anchor = today.replace(day=1)
        self.rows = _read_csv(data_file(data_dir, DECISIONS))
        self.boroughs = boroughs
        self.by_code = {b.code: b for b in boroughs}
        self.orgs_360 = orgs_360
        self.batch = Batch()
        self.orgs: dict[str, OrganisationRecord] = {}

    def _add(self, org: OrganisationRecord) -> str:
        self.orgs.setdefault(org.ref, org)
        return org.ref

    def _add_org(self, org: OrganisationRecord) -> OrganisationRecord:
        return self.orgs.setdefault(org.ref, org)

    def recipient(self, row: dict[str, str]) -> OrganisationRecord:
        """The organisation a decision's recipient is: an org-id from the 360Giving file for
        the charities found there, the same record the other sources use for Safer London,
        London Community Foundation and the councils, a collective placeholder for recipients
        that name many organisations, else an ``org:`` ref from the name."""
        name = row["recipient_name"].strip()
        kind = row["recipient_type"].strip().casefold()
        for prefix, org_id in _RECIPIENTS_360:
            if name.startswith(prefix) and org_id in self.orgs_360:
                return self._add_org(copy.deepcopy(self.orgs_360[org_id]))
        if name == "Rescue and Response":
            return self._add_org(safer_london())
        if "London Community Foundation" in name:
            return self._add_org(london_community_foundation())
        if name.startswith(_COLLECTIVE_BOROUGHS):
            return self._add_org(_collective(_COLLECTIVE_BOROUGHS, "council"))
        codes = [c for c in row["borough_gss_codes"].split(";") if c.strip()]
        if "local authorit" in kind and len(codes) == 1 and codes[0] in self.by_code:
            org = council(self.by_code[codes[0]])
            if org.name == name:
                return self._add_org(org)
        org_type = _organisation_type(kind)
        if any(word in name.casefold() for word in ("not named", "(one per", "open call")):
            return self._add_org(_collective(name, org_type))
        return self._add_org(OrganisationRecord(ref="org:" + slug(name), name=name, type=org_type))

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
            start, end = _fy_start(years[0]), _fy_end(years[-1])
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
        else:
            areas = [LONDON]
            if not scope.casefold().startswith("london-wide"):
                notes.append(
                    f"Area: {scope}; the boroughs are not named in the source, so London is shown."
                )
        service_refs: list[str] = []
        if self._funds_borough_programmes(row):
            service_refs = [f"lcpf-{b.code}" for b in self.boroughs if b.bcu_name]
            notes.append(
                "Linked to the 32 boroughs' LCPF programmes (placeholder services: the per-borough "
                "allocations are in the decision's appendix, not in this data)."
            )
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
            funder_ref=MOPAC_REF,
            recipient_ref=recipient.ref,
            title=title[:500],
            description=description,
            programme=_programme(ctx, row["programme"]),
            service_refs=service_refs,
            amount=amount,
            awarded=awarded,
            start=start,
            end=end,
            duration_months=months_between(start, end) if start and end else None,
            financial_year=financial_year,
            areas=areas,
            source_url=row["source_url"].strip() or None,
            demo=demo,
        )

    @staticmethod
    def _funds_borough_programmes(row: dict[str, str]) -> bool:
        text = f"{row['programme']} {row['recipient_name']}"
        return "crime prevention fund" in _norm(text) and bool(_LCPF_BOROUGH_WORDS.search(text))

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
                    organisation_ref=self._add(council(b)),
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
        self._add(mopac())
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
        self.batch.organisations = list(self.orgs.values())
        return self.batch


def _organisation_type(kind: str) -> str:
    if "police" in kind:
        return "police"
    if "local authorit" in kind or "borough" in kind or "council" in kind:
        return "council"
    if "university" in kind or "college" in kind or "school" in kind:
        return "education"
    if "vcse" in kind or "charit" in kind or "voluntary" in kind:
        return "voluntary"
    return "other"


# -- 2. the Committee's services and illustrative borough services --------------------------------
@dataclass(frozen=True)
class _BoroughService:
    bcu: str
    borough: str
    outcode: str
    ref: str
    name: str
    themes: str
    summary: str
    min_age: int | None = None
    max_age: int | None = None
    referral: str = "self, professional"


#: one illustrative council-run service per BCU (Oxygen in Kingston covers South West)
_BOROUGH_SERVICES = (
    _BoroughService(
        "Central West",
        "E09000033",
        "SW1P",
        "demo-westminster-idva",
        "Westminster domestic abuse advocacy (IDVA) service",
        "domestic-abuse",
        "Independent domestic violence advisers supporting high-risk victims",
        16,
        None,
    ),
    _BoroughService(
        "Central North",
        "E09000019",
        "N1",
        "demo-islington-youth-mentoring",
        "Islington youth diversion and mentoring",
        "youth diversion; mentoring",
        "One-to-one mentoring and positive activities for young people at risk",
        10,
        18,
    ),
    _BoroughService(
        "Central East",
        "E09000012",
        "E8",
        "demo-hackney-hate-crime",
        "Hackney hate crime advocacy",
        "hate crime; victims",
        "Advocacy and reporting support for victims of hate crime",
        16,
        None,
    ),
    _BoroughService(
        "Central South",
        "E09000022",
        "SW9",
        "demo-lambeth-vawg-hub",
        "Lambeth VAWG community hub",
        "vawg; sexual violence",
        "Drop-in advice and referral for women and girls affected by violence",
        13,
        None,
    ),
    _BoroughService(
        "North",
        "E09000014",
        "N17",
        "demo-haringey-exploitation-outreach",
        "Haringey exploitation outreach",
        "gangs; exploitation",
        "Detached outreach with young people at risk of criminal exploitation",
        11,
        25,
    ),
    _BoroughService(
        "North East",
        "E09000025",
        "E15",
        "demo-newham-substance-misuse-pathway",
        "Newham substance misuse and offending pathway",
        "drugs; reoffending",
        "Substance-misuse support for people leaving custody",
        18,
        None,
        "professional",
    ),
    _BoroughService(
        "East",
        "E09000002",
        "RM10",
        "demo-barking-dagenham-asb-mediation",
        "Barking and Dagenham ASB mediation",
        "anti-social behaviour",
        "Neighbour mediation for anti-social behaviour disputes",
        18,
        None,
    ),
    _BoroughService(
        "North West",
        "E09000005",
        "NW10",
        "demo-brent-knife-crime-education",
        "Brent knife-crime education sessions",
        "knife crime; youth",
        "Knife-crime awareness sessions in schools and youth clubs",
        11,
        18,
        "school, professional",
    ),
    _BoroughService(
        "West",
        "E09000009",
        "W5",
        "demo-ealing-business-crime",
        "Ealing business crime reduction partnership",
        "business crime",
        "Radio link, information sharing and training for town-centre businesses",
        None,
        None,
        "self",
    ),
    _BoroughService(
        "South",
        "E09000008",
        "CR0",
        "demo-croydon-womens-centre",
        "Croydon women's centre drop-in",
        "female offenders; mental health",
        "Women's centre support for women in or at risk of contact with the justice system",
        18,
        None,
    ),
    _BoroughService(
        "South East",
        "E09000023",
        "SE13",
        "demo-lewisham-victim-wellbeing",
        "Lewisham victim wellbeing service",
        "victims; mental health",
        "Emotional support and wellbeing sessions for victims of crime",
        16,
        None,
    ),
)
#: the service whose last check is left old, so the directory's stale flag shows
_STALE_SERVICE = "demo-barking-dagenham-asb-mediation"
#: BCUs given a (fictional) BCU lead contact
_BCU_LEADS = ("Central West", "South West", "North", "East")


class _Committee:
    def __init__(
        self, data_dir: Path, ctx: Context, boroughs: list[Borough], today: date,
    ) -> None:  # fmt: skip
        self.data_dir = data_dir
        self.ctx = ctx
        self.boroughs = boroughs
        self.by_code = {b.code: b for b in boroughs}
        self.anchor = today.replace(day=1)
        self.current_fy = financial_year_of(self.anchor)
        self.batch = Batch()
        self.orgs: dict[str, OrganisationRecord] = {}
        #: borough code → the postcode of its illustrative delivery site
        self.sites = pick_postcodes(
            data_dir, {KINGSTON: "KT1", **{s.borough: s.outcode for s in _BOROUGH_SERVICES}}
        )

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
        start, end = _fy_start(fy), _fy_end(fy)
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

    def named_services(self) -> None:
        ctx = self.ctx
        mopac_ref = self._add(mopac())
        kingston = self.by_code[KINGSTON]
        sites = self.sites

        # Safer London: Rescue and Response (pan-London county lines service)
        safer = self._add(safer_london())
        self.batch.services.append(
            ServiceRecord(
                ref="rescue-and-response",
                name="Rescue and Response",
                organisation_ref=safer,
                description=(
                    "Pan-London county lines service: support for young Londoners exploited "
                    "through county lines and gang exit support, named in "
                    f"{LETTER}. Co-commissioned through the London Crime Prevention Fund "
                    "(MOPAC decision record MOPAC-DEC-023). Illustrative: the age range, referral "
                    "route, contact address and verification date are invented for the demo."
                ),
                themes=ctx.themes("gang exit; county lines"),
                coverage=ctx.areas("London-wide"),
                min_age=10,
                max_age=25,
                referral="professional",
                email="rescue-and-response@example.org",
                last_verified=self.verified(6),
                demo=True,
            )
        )
        self.batch.grants.append(
            self._grant(
                "demo-rescue-and-response-2023-24", mopac_ref, safer,
                "Rescue and Response county lines service 2023/24", "LCPF co-commissioning",
                None, "2023/24", [LONDON], ["rescue-and-response"],
                "a later year of MOPAC's LCPF co-commissioning of Rescue and Response "
                "(the real 2021/22 extension is decision record MOPAC-DEC-023); no amount is shown "
                "because none is published.",
            )
        )  # fmt: skip

        # Oxygen, Kingston: MOPAC → Kingston Safer Neighbourhood Board → Oxygen
        snb = self._add(
            OrganisationRecord(
                ref="org:kingston-safer-neighbourhood-board",
                name="Kingston Safer Neighbourhood Board",
                type="other",
                description="Kingston upon Thames's Safer Neighbourhood Board: the community "
                "board that distributes MOPAC's SNB project funding in the borough.",
            )
        )
        oxygen = self._add(
            OrganisationRecord(
                ref="org:oxygen",
                name="Oxygen",
                type="voluntary",
                description=f"Delivers a knife-crime programme for young people in Kingston, "
                f"funded through the Kingston Safer Neighbourhood Board (named in {LETTER}).",
            )
        )
        self.batch.services.append(
            ServiceRecord(
                ref="oxygen-kingston-knife-crime",
                name="Oxygen knife-crime programme for young people – Kingston",
                organisation_ref=oxygen,
                description=(
                    "Workshops and one-to-one sessions helping young people in Kingston stay "
                    f"safe from knife crime, funded through the Kingston Safer Neighbourhood "
                    f"Board (named in {LETTER}). Illustrative: the site, ages, referral route, "
                    "contact address and outcome figures are invented for the demo."
                ),
                themes=ctx.themes("knife crime; youth diversion"),
                coverage=ctx.areas(kingston.code),
                locations=[_site(ctx, "oxygen-kingston-site-1", sites[KINGSTON], SITE_NAME)],
                min_age=11,
                max_age=19,
                referral="self, school, professional",
                email="knife-crime-programme@oxygen.example.org",
                last_verified=self.verified(10),
                demo=True,
            )
        )
        snb_grant = self._grant(
            "demo-kingston-snb-2023-24", mopac_ref, snb,
            "Kingston Safer Neighbourhood Board projects fund 2023/24", "snb",
            31250, "2023/24", [KINGSTON], [],
            "MOPAC's yearly SNB projects fund for Kingston (the real 2016/17 fund was £1m across "
            "all boroughs, decision record MOPAC-DEC-028; £31,250 is that split 32 ways).",
        )  # fmt: skip
        self.batch.grants.append(snb_grant)
        self.batch.grants.append(
            self._grant(
                "demo-kingston-snb-oxygen-2023-24", snb, oxygen,
                "Oxygen knife-crime programme (Kingston SNB grant) 2023/24", "snb",
                6000, "2023/24", [KINGSTON], ["oxygen-kingston-knife-crime"],
                "the Kingston Safer Neighbourhood Board regranting part of its MOPAC funding to "
                "Oxygen.",
                parent_ref=snb_grant.ref, regrant_type="FRG010",
            )
        )  # fmt: skip

        # Victim Support: the London Victim and Witness Service
        victim_support = self._add(
            OrganisationRecord(
                ref="org:victim-support",
                name="Victim Support",
                type="voluntary",
                description="National charity for people affected by crime; delivers the London "
                f"Victim and Witness Service commissioned by MOPAC (named in {LETTER}).",
            )
        )
        self.batch.services.append(
            ServiceRecord(
                ref="london-victim-and-witness-service",
                name="London Victim and Witness Service",
                organisation_ref=victim_support,
                description=(
                    "Free, confidential support for victims and witnesses of crime anywhere in "
                    f"London, commissioned by MOPAC (named in {LETTER}). Illustrative: the "
                    "eligibility wording, contact address and verification date are invented."
                ),
                themes=ctx.themes("victims; witnesses"),
                coverage=ctx.areas("pan-London"),
                eligibility="Anyone affected by crime in London, whether or not it was reported.",
                referral="self, police, professional",
                email="london-victim-witness@victimsupport.example.org",
                last_verified=self.verified(3),
                demo=True,
            )
        )
        self.batch.grants.append(
            self._grant(
                "demo-london-victim-witness-service-2023-24", mopac_ref, victim_support,
                "London Victim and Witness Service 2023/24", "victims",
                None, "2023/24", [LONDON], ["london-victim-and-witness-service"],
                "MOPAC's commissioning of the London Victim and Witness Service; no amount is "
                "shown because the contract value is not in this data.",
            )
        )  # fmt: skip

    def borough_services(self) -> None:
        ctx = self.ctx
        mopac_ref = MOPAC_REF
        for i, s in enumerate(_BOROUGH_SERVICES):
            borough = self.by_code[s.borough]
            assert borough.bcu_name == s.bcu, f"{borough.name} is not in {s.bcu} BCU"
            org = self._add(council(borough))
            stale = s.ref == _STALE_SERVICE
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
                    themes=ctx.themes(s.themes),
                    coverage=ctx.areas(borough.code),
                    locations=[_site(ctx, f"{s.ref}-site-1", self.sites[borough.code], SITE_NAME)],
                    min_age=s.min_age,
                    max_age=s.max_age,
                    referral=s.referral,
                    email=f"{s.ref.removeprefix('demo-')}@{slug(borough.name)}.example.gov.uk",
                    last_verified=self.stale_date if stale else self.verified(2 + 3 * i),
                    demo=True,
                )
            )
            self.batch.grants.append(
                self._grant(
                    f"{s.ref}-lcpf", mopac_ref, org,
                    f"{s.name} – LCPF {self.current_fy}", "LCPF",
                    40_000 + 5_000 * i, self.current_fy, [borough.code], [s.ref],
                    f"LCPF direct borough funding for {s.name}.",
                )
            )  # fmt: skip

    def contacts(self) -> None:
        for i, b in enumerate(self.boroughs):
            self.batch.contacts.append(
                ContactRecord(
                    area_code=self.ctx.areas(b.code)[0],
                    role="Borough SPOC",
                    name=f"Demo SPOC for {b.name} (fictional)",
                    email=f"spoc@{slug(b.name)}.example.gov.uk",
                    phone=f"020 7946 0{i:03d}",  # Ofcom's range reserved for drama
                    demo=True,
                )
            )
        bcus = sorted({b.bcu_name for b in self.boroughs if b.bcu_name})
        for j, bcu in enumerate(name for name in bcus if name in _BCU_LEADS):
            self.batch.contacts.append(
                ContactRecord(
                    area_code=self.ctx.areas(f"{bcu} BCU")[0],
                    role="BCU lead",
                    name=f"Demo BCU lead, {bcu} (fictional)",
                    email=f"bcu-lead@{slug(bcu)}.example.police.uk",
                    phone=f"020 7946 0{100 + j:03d}",
                    demo=True,
                )
            )
        self.batch.contacts.append(
            ContactRecord(
                area_code=KINGSTON,
                role="SNB chair",
                name="Demo chair, Kingston Safer Neighbourhood Board (fictional)",
                email="chair@kingston-snb.example.org",
                demo=True,
            )
        )

    def outcomes(self) -> None:
        start, end = date(2023, 4, 1), date(2024, 3, 31)
        for service, metric, value, target, unit in (
            ("rescue-and-response", "young people supported", 312, 350, "people"),
            ("rescue-and-response", "referrals received", 415, None, "referrals"),
            (
                "oxygen-kingston-knife-crime",
                "young people completing the programme",
                48,
                60,
                "people",
            ),
            ("oxygen-kingston-knife-crime", "knife-crime workshops delivered", 22, 24, "sessions"),
        ):
            self.batch.outcomes.append(
                OutcomeRecord(
                    service_ref=service,
                    metric=metric,
                    period_start=start,
                    period_end=end,
                    value=Decimal(value),
                    target=None if target is None else Decimal(target),
                    unit=unit,
                    report_type="interim",
                    demo=True,
                )
            )

    def build(self) -> Batch:
        self.named_services()
        self.borough_services()
        self.contacts()
        self.outcomes()
        self.batch.organisations = list(self.orgs.values())
        return self.batch


# -- the demo ---------------------------------------------------------------------------------
def build_demo(
    data_dir: Path, ctx: Context, *, today: date | None = None, progress: Progress = QUIET
) -> list[tuple[str, Batch]]:
    """The demo sources, in load order: (source name, batch) for each of ``DEMO_SOURCES``.
    ``data_dir`` is a London data directory (the packaged snapshot, a refreshed release
    or one laid out like shared/data); its files are found by manifest key. ``progress``
    is told each source's step."""
    data_dir = Path(data_dir)
    decisions_name, committee_name, giving_name = DEMO_SOURCES
    progress.step("demo: reading the boroughs and BCUs")
    boroughs = read_boroughs(data_dir)
    giving_file = data_file(data_dir, GIVING360)
    progress.step(f"{giving_name}: reading {giving_file.name}")
    giving = read_360giving_json(giving_file.read_bytes(), ctx)
    orgs_360 = {org.ref: org for org in giving.organisations}
    today = today or date.today()
    progress.step(f"{decisions_name}: reading {data_file(data_dir, DECISIONS).name}")
    decisions = _Decisions(data_dir, ctx, boroughs, orgs_360, today).build()
    progress.step(f"{committee_name}: building the Committee-named services")
    committee = _Committee(data_dir, ctx, boroughs, today).build()
    return list(zip(DEMO_SOURCES, (decisions, committee, giving), strict=True))
