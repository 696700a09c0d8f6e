"""The groups of similar boroughs the borough comparison uses (issue 18 §4):
``similar_boroughs.csv``, London's 33 local authorities by their ONS International
Territorial Levels (ITL) 2021 level-2 region. Plain Python reading the data file beside it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from directory.data import DATA_DIR

CLASSIFICATION = {
    "name": "ONS International Territorial Levels (ITL) 2021, level 2 (ITL2)",
    "source": "Office for National Statistics, International Territorial Levels (ITL) "
    "2021: LAD to ITL3 to ITL2 to ITL1 lookup (ONS Open Geography Portal)",
    "licence": "Open Government Licence v3.0; source: Office for National Statistics licensed "
    "under the Open Government Licence v3.0",
    "note": "ITL2 groups are neighbouring boroughs of a similar inner or outer London "
    "character (Inner London – West, Inner London – East, Outer London – East and North "
    "East, Outer London – South, Outer London – West and North West); they are official "
    "statistical regions, not a cluster analysis of boroughs' characteristics.",
}


@dataclass(frozen=True, slots=True)
class Group:
    code: str
    name: str
    members: tuple[str, ...]  # borough GSS codes, in the file's order


@cache
def groups() -> dict[str, Group]:
    """Each borough's code → its group."""
    with (DATA_DIR / "similar_boroughs.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    members: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for row in rows:
        members.setdefault(row["group_code"], []).append(row["code"])
        names[row["group_code"]] = row["group_name"]
    built = {g: Group(g, names[g], tuple(codes)) for g, codes in members.items()}
    return {row["code"]: built[row["group_code"]] for row in rows}
