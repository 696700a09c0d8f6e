"""What both demo sources use: the boroughs and their councils, financial years, themes
found in text, and delivery sites at real postcodes."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from directory.demo.loader import DemoData, DemoDataError, norm
from directory.ingest.context import themes as theme_taxonomy
from directory.ingest.records import Context, LocationRecord, OrganisationRecord
from directory.ingest.values import slug
from geodata.sources import data_file

#: the data directory's files the demo reads, by manifest key (geodata/data/sources.toml)
DECISIONS, GIVING360, POSTCODES, BCUS = "mopac_decisions", "giving360", "postcodes", "bcus"

LONDON = "E12000007"
ILLUSTRATIVE = "Illustrative demo record"
SITE_NAME = "Demo delivery site (illustrative)"


@dataclass(frozen=True)
class Borough:
    code: str
    name: str
    bcu_name: str | None  # None for the City of London


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def read_boroughs(data_dir: Path) -> list[Borough]:
    """The 33 London local authorities with their Met BCU, from reference/met_bcus_boroughs.csv."""
    boroughs = []
    for row in read_csv(data_file(data_dir, BCUS)):
        police = row["police_force"].strip()
        bcu = row["bcu_name"].strip() if police == "Metropolitan Police Service" else None
        boroughs.append(Borough(row["borough_gss_code"].strip(), row["borough_name"].strip(), bcu))
    return sorted(boroughs, key=lambda b: b.code)


def check_councils(data: DemoData, by_code: dict[str, Borough]) -> None:
    """councils.csv names boroughs of the London data, by code and name."""
    for entry in data.councils.values():
        borough = by_code.get(entry.borough_code)
        if borough is None:
            raise DemoDataError(
                f"{entry.where}: borough_code {entry.borough_code!r} is not a London borough."
            )
        if borough.name != entry.borough:
            raise DemoDataError(
                f"{entry.where}: borough {entry.borough!r} is not the name of "
                f"{entry.borough_code} ({borough.name!r})."
            )


def council_name(data: DemoData, borough: Borough) -> str:
    """The council's name: councils.csv's, else "London Borough of <borough>"."""
    entry = data.councils.get(borough.code)
    return entry.council_name if entry else f"London Borough of {borough.name}"


def council(data: DemoData, borough: Borough) -> OrganisationRecord:
    name = council_name(data, borough)
    return OrganisationRecord(
        ref="org:" + slug(name),
        name=name,
        type="council",
        description=f"The local authority for {borough.name}.",
    )


def collective(name: str, org_type: str) -> OrganisationRecord:
    return OrganisationRecord(
        ref="org:" + slug(name),
        name=name,
        type=org_type,
        description="Collective recipient as named in the MOPAC decision: it stands for several "
        "organisations, not a single one.",
    )


def fy_start(fy: str) -> date:
    return date(int(fy[:4]), 4, 1)


def fy_end(fy: str) -> date:
    return date(int(fy[:4]) + 1, 3, 31)


def themes_in(ctx: Context, text: str, default: str = "community-safety") -> list[str]:
    """Theme ids whose names or aliases (of five characters or more, so "da", "asb"… cannot
    match by accident) appear as whole words in ``text``; ``default`` when none do."""
    words = f" {norm(text)} "
    found: list[str] = []
    for entry in theme_taxonomy():
        keys = {norm(entry.name), *(norm(k) for k in entry.keys)}
        for key in sorted(keys):
            if len(key) >= 5 and f" {key} " in words:
                for theme in ctx.themes(key):
                    if theme not in found:
                        found.append(theme)
                break
    return found or ctx.themes(default)


def site(ctx: Context, ref: str, postcode: str, name: str) -> LocationRecord:
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
