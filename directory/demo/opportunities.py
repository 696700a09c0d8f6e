"""The demo directory's funding opportunities (``data/opportunities.toml``): illustrative
bidding rounds of real funders and programmes, every one marked ``demo``, placed in time
from the Monday of the week the demo is loaded (Europe/London), so that all week a demo
shows every status (closed, closing soon, open, upcoming) and a reload that week changes
nothing."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from directory.demo.loader import DATA, DemoData, DemoDataError
from directory.ingest.records import OpportunityRecord

FILE = "opportunities.toml"
LONDON_TZ = ZoneInfo("Europe/London")
#: key → (required, kind)
KEYS: dict[str, tuple[bool, type | tuple[type, ...]]] = {
    "ref": (True, str), "title": (True, str), "funder": (True, str), "funder_name": (False, str),
    "programme": (False, str), "summary": (False, str), "eligibility": (False, str),
    "small_org_friendly": (False, bool), "small_org_rule": (False, str),
    "amount_min": (False, int), "amount_max": (False, int), "total_pot": (False, int),
    "awards_expected": (False, int), "opens": (False, int), "opens_time": (False, str),
    "closes": (True, int), "closes_time": (True, str), "decision": (False, int),
    "grant_months_min": (False, int), "grant_months_max": (False, int),
    "how_to_apply_url": (False, str), "themes": (True, list), "areas": (True, list),
    "contact_name": (False, str), "contact_email": (False, str), "contact_public": (False, bool),
}  # fmt: skip


def anchor_of(today: date) -> date:
    """The Monday of ``today``'s week: the day the demo's opportunity dates count from."""
    return today - timedelta(days=today.weekday())


def _moment(anchor: date, days: int, hhmm: str, where: str) -> datetime:
    try:
        clock = time.fromisoformat(hhmm)
    except ValueError:
        raise DemoDataError(f"{where}: {hhmm!r} is not a time HH:MM") from None
    return datetime.combine(anchor + timedelta(days=days), clock, LONDON_TZ)


def read_opportunities(data: DemoData, today: date, folder: Path = DATA) -> list[OpportunityRecord]:
    """The records of ``data/opportunities.toml``, dated from ``today``'s week."""
    path = folder / FILE
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("opportunity", [])
    except tomllib.TOMLDecodeError as error:
        raise DemoDataError(f"{FILE}: {error}") from None
    anchor = anchor_of(today)
    records = []
    for number, entry in enumerate(entries, start=1):
        where = f"{FILE}, opportunity {number}"
        _check(entry, where)
        funder = data.organisations.get(entry["funder"])
        name = entry.get("funder_name") or (funder.name if funder else None)
        if name is None:
            raise DemoDataError(f"{where}: funder {entry['funder']!r} needs a funder_name")
        opens = None
        if "opens" in entry:
            opens = _moment(anchor, entry["opens"], entry.get("opens_time", "09:00"), where)
        money = {k: None if k not in entry else Decimal(entry[k])
                 for k in ("amount_min", "amount_max", "total_pot")}  # fmt: skip
        records.append(
            OpportunityRecord(
                ref=entry["ref"],
                title=entry["title"],
                funder_name=name,
                funder_ref=entry["funder"],
                closes_at=_moment(anchor, entry["closes"], entry["closes_time"], where),
                opens_at=opens,
                programme=entry.get("programme"),
                summary=entry.get("summary"),
                eligibility=entry.get("eligibility"),
                small_org_friendly=entry.get("small_org_friendly", False),
                small_org_rule=entry.get("small_org_rule"),
                **money,
                awards_expected=entry.get("awards_expected"),
                decision_date=None
                if "decision" not in entry
                else anchor + timedelta(days=entry["decision"]),
                grant_months_min=entry.get("grant_months_min"),
                grant_months_max=entry.get("grant_months_max"),
                how_to_apply_url=entry.get("how_to_apply_url"),
                contact_name=entry.get("contact_name"),
                contact_email=entry.get("contact_email"),
                contact_public=entry.get("contact_public", False),
                themes=list(entry["themes"]),
                areas=list(entry["areas"]),
                demo=True,
            )  # fmt: skip
        )
    return records


def _check(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise DemoDataError(f"{where}: not a table")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise DemoDataError(f"{where}: unknown keys {', '.join(unknown)}")
    for key, (required, kind) in KEYS.items():
        if key not in entry:
            if required:
                raise DemoDataError(f"{where}: {key} is needed")
            continue
        value = entry[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DemoDataError(f"{where}: {key} = {value!r} is not a {kind.__name__}")  # type: ignore[union-attr]
