"""Outcomes followed after funding ends (issue 18 §3): when an outcome was measured, when
its service's funding ended, and how many whole months after that end it was measured; the
follow-up counts of a group of funded services. No Flask here.

A service's funding ends on the latest end date of the community-safety awards that list it
(the awards the funding answers count by default). Regrants count too: a service paid
through a Safer Neighbourhood Board's regrant is funded by it, and no money is added up
here, so nothing is counted twice. Awards without an end date are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from directory.data.community_safety import rule as community_safety_rule
from directory.ingest.values import whole_months
from directory.store.repositories.funding import FundingQueries
from directory.usecases.facts import FundingData

#: the follow-ups the summary counts: measured at least this many months after funding ended
FOLLOW_UP_MONTHS = (6, 12)

MEASURED_RULE = (
    "measured.on is when the outcome was measured: its measured_on date (basis measured_on) "
    "or, when none was given, its period's end (basis period_end). A service's funding ended "
    "on the latest end date of the community-safety awards that list it (the awards the "
    "funding answers count by default; regrants too, since a service paid through a regrant "
    "is funded by it; awards without an end date are left out). after_funding_months is the "
    "whole calendar months from the day after that end to the day after the measurement (a "
    "measurement on 2025-03-31 of funding that ended on 2024-03-31 is 12 months after); null "
    "when it was measured on or before that end, or the service has no dated award."
)

SUMMARY_RULE = (
    "follow_up counts the group's funded services: listed services with a dated "
    "community-safety award (regrants included), whose funding ended on the latest end date "
    "of those awards. funding_ended: those whose funding ended before today. For 6 and 12 "
    "months: eligible are the services whose funding ended at least that many months before "
    "today (so a follow-up could have been measured by now), followed_up those of them with "
    "any outcome measured that many months or more after their funding ended (measured_on, "
    "or the period's end when none was given), not_followed_up the rest (the Committee's "
    "'no follow-up after') and share followed_up ÷ eligible (null when none is eligible)."
)


def funding_ends(data: FundingData) -> dict[int, date]:
    """Service id → the day its funding ended (the latest end of the community-safety
    awards that list it), for services with such an award with an end date; worked out
    once per data version."""
    found = data._funding_ends
    if found is None:
        found = {}
        for g in data.grants:
            if g.community_safety and g.end is not None:
                for sid in g.services:
                    if sid not in found or found[sid] < g.end:
                        found[sid] = g.end
        data._funding_ends = found
    return found


def funding_end_of(q: FundingQueries, service_id: int) -> date | None:
    """The day one service's funding ended, read from its grants as they are now: what
    :func:`funding_ends` gives for it, without the data version's facts. So a service's
    answer (and its ETag, which a change sends in If-Match) is the same from every worker,
    whether or not its facts are yet the newest import's."""
    counts = community_safety_rule().counts_grant
    ends = [
        r.end
        for r in q.grant_ends_of(service_id)
        if counts(r.programme_id, r.programme_community_safety, r.funder_ref)
    ]
    return max(ends, default=None)


def measured_day(row: Any) -> date | None:
    """When an outcome was measured: its measured_on, or else its period's end."""
    return row.measured_on if row.measured_on is not None else row.period_end


def measured(row: Any) -> dict[str, Any]:
    """``{"on", "basis"}``: the day an outcome was measured and which field gave it."""
    if row.measured_on is not None:
        return {"on": row.measured_on.isoformat(), "basis": "measured_on"}
    if row.period_end is not None:
        return {"on": row.period_end.isoformat(), "basis": "period_end"}
    return {"on": None, "basis": None}


def months_after(end: date | None, day: date | None) -> int | None:
    """Whole months from the day after ``end`` to the day after ``day``; None when either is
    missing or ``day`` is not after ``end``."""
    if end is None or day is None or day <= end:
        return None
    one = timedelta(days=1)
    return whole_months(end + one, day + one)


def follow_up(
    services: Iterable[int], ends: dict[int, date], latest: dict[int, int], today: date
) -> dict[str, Any]:
    """The follow-up counts of a group of services (those without dated funding are left
    out); ``latest`` is each service's most months after funding of any of its outcomes."""
    funded = [sid for sid in services if sid in ends]
    out: dict[str, Any] = {
        "funded_services": len(funded),
        "funding_ended": sum(1 for sid in funded if ends[sid] < today),
    }
    for months in FOLLOW_UP_MONTHS:
        eligible = [sid for sid in funded if (months_after(ends[sid], today) or -1) >= months]
        done = sum(1 for sid in eligible if latest.get(sid, -1) >= months)
        out[f"after_{months}_months"] = {
            "eligible": len(eligible),
            "followed_up": done,
            "not_followed_up": len(eligible) - done,
            "share": round(done / len(eligible), 4) if eligible else None,
        }
    return out
