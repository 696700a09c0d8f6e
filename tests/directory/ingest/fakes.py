"""A small stand-in for ``directory.ingest.records.Context``: London's boroughs and 2025
wards from the shared reference CSVs, a few themes, slug programmes and a handful of
postcodes. No database."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from directory.ingest.giving360 import own_org_ref, own_ref
from directory.ingest.records import LocationRecord
from tests.conftest import shared_data_path

LONDON = "E12000007"
KINGSTON = "E09000021"
TOWER_HAMLETS = "E09000030"

THEMES = {
    "knife crime": "violence-knife-crime",
    "serious violence": "violence-knife-crime",
    "domestic abuse": "domestic-abuse",
    "domestic violence": "domestic-abuse",
    "vawg": "vawg",
    "gangs": "gangs-exploitation",
    "county lines": "gangs-exploitation",
}

POSTCODES = {
    "KT11EU": (51.4101, -0.3007),
    "E14NS": (51.5216, -0.0466),
    "SE15ER": (51.4983, -0.0902),
}


@cache
def _reference() -> tuple[dict[str, str], dict[str, str]]:
    """(code → name, normalised name → code) for London, its boroughs and its 2025 wards."""
    folder: Path = shared_data_path() / "reference"
    names: dict[str, str] = {LONDON: "London"}
    with (folder / "london_borough_population_2022.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            names[row["gss_code"]] = row["name"]
    boroughs = dict(names)
    with (folder / "london_wards_2025_codes_names.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            names[row["WD25CD"]] = row["WD25NM"]
    by_name = {_key(name): code for code, name in boroughs.items()}
    by_name.update(
        {
            "kingston": KINGSTON,
            "rb kingston upon thames": KINGSTON,
            "london wide": LONDON,
            "pan london": LONDON,
            "greater london": LONDON,
            "all london": LONDON,
        }
    )
    return names, by_name


def _key(text: str) -> str:
    text = text.casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


class HoldsNothing:
    """A context's answers about the records held, for a fake holding none."""

    def held_ref(self, kind: str, hsds_id: str) -> str | None:
        """No records held."""
        return None

    def held_site(self, hsds_id: str) -> tuple[str, str] | None:
        return None

    def grant_ref(self, grant_id: str) -> str:
        """No 360Giving prefix of our own: every id whole."""
        return grant_id

    def organisation_ref(self, org_id: str) -> str:
        """No 360Giving prefix of our own: every org-id whole."""
        return org_id

    def made_here(self, kind: str, item: dict[str, Any], service_id: str) -> bool:
        return False


class FakeContext(HoldsNothing):
    def __init__(self, *, giving360_prefix: str | None = None) -> None:
        self.codes, self.names = _reference()
        self.programme_calls: list[str] = []
        self.giving360_prefix = giving360_prefix

    def grant_ref(self, grant_id: str) -> str:
        """Our 360Giving prefix, if given, taken off (no grant is held)."""
        return own_ref(grant_id, self.giving360_prefix)

    def organisation_ref(self, org_id: str) -> str:
        """Our 360Giving prefix, if given, taken off (no organisation is held)."""
        return own_org_ref(org_id, self.giving360_prefix)

    def areas(self, text: str) -> list[str]:
        found: list[str] = []
        for item in re.split(r"[;,|\n]+", text):
            item = item.strip()
            if not item:
                continue
            code = self.area_code(item) or self.names.get(_key(item))
            if code is None:
                raise ValueError(f"'{item[:60]}' is not a London area we know.")
            if code not in found:
                found.append(code)
        if not found:
            raise ValueError("No area given.")
        return found

    def area_code(self, code: str) -> str | None:
        text = code.strip().upper()
        return text if text in self.codes else None

    def themes(self, text: str) -> list[str]:
        theme = THEMES.get(_key(text))
        if theme is None:
            raise ValueError(f"'{text[:60]}' is not a theme we know.")
        return [theme]

    def programme(self, text: str) -> str:
        self.programme_calls.append(text)
        return "-".join(_key(text).split())[:80] or "unnamed"

    def read_postcodes(self, texts: Iterable[str]) -> None:
        """Nothing to read ahead: the postcodes are in memory."""
        list(texts)

    def postcode(self, text: str) -> LocationRecord:
        key = re.sub(r"\s+", "", text).upper()
        if key not in POSTCODES:
            raise ValueError(f"'{text[:20]}' is not a London postcode we know.")
        lat, lon = POSTCODES[key]
        return LocationRecord(ref="", postcode=key, lat=lat, lon=lon)
