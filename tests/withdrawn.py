"""What the directory should say about a withdrawn (terminated) postcode, worked out in the
test from the source files themselves: the ONS NSPL row (termination month, borough, 2021
ward, grid reference), the borough and ward boundaries, and Code-Point Open (which must not
list it as live)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import shapely

from geodata.loaders import read_boroughs, read_wards

NSPL = Path("postcodes") / "nspl_2021_11_london_subset_SM_WC.csv"
CODEPOINT = Path("postcodes") / "london_postcodes_codepoint_open_2025_10.csv"


@dataclass(frozen=True)
class Withdrawn:
    postcode: str  # as displayed: "SM1 1AB"
    month: str  # "July 2002"
    ward_code: str
    ward_name: str
    borough_code: str
    borough_name: str

    @property
    def sentence(self) -> str:
        return (
            f"{self.postcode} was withdrawn in {self.month}; "
            f"it was in {self.ward_name} ward, {self.borough_name}."
        )


def _live(data_dir: Path) -> set[str]:
    with open(data_dir / CODEPOINT, newline="") as f:
        return {r["postcode"].replace(" ", "") for r in csv.DictReader(f)}


def nspl_row(data_dir: Path, postcode: str | None = None, area: str | None = None) -> dict:
    """The NSPL row of `postcode`, or the first withdrawn postcode (with a grid reference,
    not live again) of the postcode area `area` ("WC")."""
    live = _live(data_dir)
    with open(data_dir / NSPL, newline="") as f:
        for row in csv.DictReader(f):
            if postcode is not None and row["pcds"] != postcode:
                continue
            if area is not None and not row["pcds"].startswith(area):
                continue
            if not row["doterm"].strip() or row["osgrdind"] == "9":
                continue
            if row["pcds"].replace(" ", "") in live:
                continue
            return row
    raise LookupError(f"no withdrawn postcode {postcode or area} in {NSPL}")


def withdrawn(data_dir: Path, row: dict) -> Withdrawn:
    """The expected answer for one NSPL row. NSPL's ward is of 2021; when it is not a current
    ward, today's ward is the one of the row's borough covering its grid reference (else the
    nearest of that borough)."""
    term = row["doterm"]
    month = date(int(term[:4]), int(term[4:6]), 1).strftime("%B %Y")
    boroughs = {b.code: b.name for b in read_boroughs(data_dir)}
    wards = [w for w in read_wards(data_dir) if w.parent_code == row["laua"]]
    ward = next((w for w in wards if w.code == row["ward"]), None)
    if ward is None:
        point = shapely.Point(float(row["oseast1m"]), float(row["osnrth1m"]))
        covering = [w for w in wards if w.geometry.covers(point)]
        ward = covering[0] if covering else min(wards, key=lambda w: w.geometry.distance(point))
    return Withdrawn(
        postcode=row["pcds"],
        month=month,
        ward_code=ward.code,
        ward_name=ward.name,
        borough_code=row["laua"],
        borough_name=boroughs[row["laua"]],
    )
