"""Outcomes: a service's reported outcomes (with when each was measured and how long after
the service's funding ended), and outcome summaries by area and theme (with how many funded
services were followed up 6 and 12 months after their funding ended)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from directory.errors import OutcomeNotFoundError, ServiceNotFoundError
from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.funding import FundingQueries
from directory.usecases.catalogue import area_ref, service_link
from directory.usecases.facts import FundingData
from directory.usecases.funding.awards import (
    WIDE_TYPES,
    area_code,
    check_choice,
)
from directory.usecases.funding.followup import (
    MEASURED_RULE,
    SUMMARY_RULE,
    follow_up,
    funding_end_of,
    funding_ends,
    measured,
    measured_day,
    months_after,
)
from directory.usecases.geography import LONDON, GeographySnapshot, area_scope


# -- outcomes ---------------------------------------------------------------------------------
def _outcome_body(row: Any, funding_end: date | None = None) -> dict[str, Any]:
    met = None if row.value is None or row.target is None else row.value >= row.target
    return {
        "id": row.id,
        "metric": row.metric,
        "period": {
            "start": row.period_start.isoformat() if row.period_start else None,
            "end": row.period_end.isoformat() if row.period_end else None,
        },
        "measured": measured(row),
        "after_funding_months": months_after(funding_end, measured_day(row)),
        "value": row.value,
        "target": row.target,
        "unit": row.unit,
        "met_target": met,
        "report": {"type": row.report_type, "url": row.report_url},
        "demo": row.demo,
    }


def service_outcomes(fq: FundingQueries, cq: CatalogueQueries, key: str) -> dict[str, Any]:
    service_id = cq.service_id(key)
    service = fq.service(service_id) if service_id is not None else None
    if service is None:
        raise ServiceNotFoundError(f"No service has the id or ref {key!r}.")
    end = funding_end_of(fq, service.id)
    outcomes = [_outcome_body(r, end) for r in fq.outcomes_of(service.id)]
    return {
        "service": {
            "id": service.id,
            "ref": service.ref,
            "name": service.name,
            "withdrawn": service.withdrawn_at is not None,
            "url": f"/api/v1/services/{service.id}",
        },  # fmt: skip
        "outcomes": outcomes,
        "counts": _outcome_counts(outcomes),
        "funding_ended": end.isoformat() if end else None,
        "rule": "met_target: value ≥ target (null when either is missing). Outcomes are "
        "reported by the provider or funder; report.type is interim or final. " + MEASURED_RULE,
    }


def service_outcome(
    fq: FundingQueries, cq: CatalogueQueries, key: str, outcome_id: int
) -> dict[str, Any]:
    """One outcome of a service, with the service it belongs to."""
    service_id = cq.service_id(key)
    service = fq.service(service_id) if service_id is not None else None
    if service is None:
        raise ServiceNotFoundError(f"No service has the id or ref {key!r}.")
    row = cq.outcome(service.id, outcome_id)
    if row is None:
        raise OutcomeNotFoundError(f"Service {key!r} has no outcome {outcome_id}.")
    end = funding_end_of(fq, service.id)
    return {
        **_outcome_body(row, end),
        "funding_ended": end.isoformat() if end else None,
        "service": service_link(service),
        "rule": MEASURED_RULE,
    }


def _outcome_counts(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    with_target = [o for o in outcomes if o["met_target"] is not None]
    met = sum(1 for o in with_target if o["met_target"])
    return {
        "outcomes": len(outcomes),
        "with_target": len(with_target),
        "met_target": met,
        "not_met": len(with_target) - met,
        "share_met": round(met / len(with_target), 4) if with_target else None,
    }


def outcomes_summary(
    fq: FundingQueries, snap: GeographySnapshot, data: FundingData, today: date, *,
    by: str, area: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    check_choice("by", by, ("borough", "theme"))
    code = area_code(snap, area)
    scope = set(area_scope(snap, code)) if code else None
    rows = fq.listed_outcomes()
    all_ends = funding_ends(data)
    ends = {s: all_ends[s] for s in fq.listed_services(list(all_ends))}  # funded and listed
    service_ids = sorted({r.service_id for r in rows} | set(ends))
    places = fq.service_places(service_ids)
    if scope is not None:
        service_ids = [s for s in service_ids if not scope.isdisjoint(places.get(s, ()))]
        inside = set(service_ids)
        rows = [r for r in rows if r.service_id in inside]
        ends = {s: e for s, e in ends.items() if s in inside}
    # each service's most months after its funding ended that any of its outcomes was measured
    latest: dict[int, int] = {}
    for r in rows:
        months = months_after(ends.get(r.service_id), measured_day(r))
        if months is not None and months > latest.get(r.service_id, -1):
            latest[r.service_id] = months
    groups: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
    members: dict[tuple[str, str | None], set[int]] = defaultdict(set)
    if by == "theme":
        themes = fq.service_themes(service_ids)

        def units(sid: int) -> set[tuple[str, str | None]]:
            return {("theme", t) for t in themes.get(sid) or [None]}
    else:

        def units(sid: int) -> set[tuple[str, str | None]]:
            return _service_units(snap, places.get(sid, set()))

    for r in rows:
        for unit in units(r.service_id):
            groups[unit].append(r)
    for sid in ends:
        for unit in units(sid):
            members[unit].add(sid)

    def group(unit: tuple[str, str | None]) -> dict[str, Any]:
        return {
            **_outcome_group(groups.get(unit, [])),
            "follow_up": follow_up(members.get(unit, set()), ends, latest, today),
        }

    present = set(groups) | set(members)
    measured_days = [d for r in rows if (d := measured_day(r)) is not None]
    answer: dict[str, Any] = {
        "by": by,
        "area": area_ref(snap, code) if code else None,
        "today": today.isoformat(),
        "totals": {**_outcome_group(rows), "follow_up": follow_up(ends, ends, latest, today)},
        "period": {
            "measured": _span(measured_days),
            "funding_ends": _span(list(ends.values())),
        },
        "follow_up_rule": SUMMARY_RULE,
    }
    if by == "theme":
        names = fq.theme_names()
        answer["themes"] = [
            {"theme": {"id": t, "name": names.get(t, t)} if t else None, **group((kind, t))}
            for kind, t in sorted(present, key=lambda u: (u[1] is None, u[1] or ""))
        ]
    else:

        def listed(kind: str) -> list[dict[str, Any]]:
            found = [c for k, c in present if k == kind and c]
            found.sort(key=lambda c: snap.areas[c].name if c in snap.areas else c)
            return [{"area": area_ref(snap, c), **group((kind, c))} for c in found]

        answer["boroughs"] = listed("borough")
        answer["bcu_wide"] = listed("bcu")
        answer["london_wide"] = group(("london", LONDON))
        answer["unplaced"] = group(("unplaced", None))
        answer["rule"] = (
            "A service's outcomes (and the service, in follow_up) count for every borough it "
            "serves or has a site in (its wards count for their borough); services for all of "
            "London or a whole BCU are reported in london_wide and bcu_wide, not repeated under "
            "every borough. A borough is listed when a service there has outcomes or funding."
        )
    return answer


def _span(days: list[date]) -> dict[str, Any]:
    """The first and last of some days (None when there are none)."""
    return {
        "first": min(days).isoformat() if days else None,
        "last": max(days).isoformat() if days else None,
    }


def _service_units(snap: GeographySnapshot, codes: set[str]) -> set[tuple[str, str | None]]:
    known = {c for c in codes if c in snap.areas}
    if not known:
        return {("unplaced", None)}
    units: set[tuple[str, str | None]] = set()
    for code in known:
        kind = snap.areas[code].type
        if kind in WIDE_TYPES:  # (the Metropolitan Police District's with London's)
            units.add(("london", LONDON))
        elif kind == "bcu":
            units.add(("bcu", code))
        elif kind == "borough":
            units.add(("borough", code))
        else:
            parent = snap.areas[code].parent_code
            units.add(("borough", parent) if parent else ("unplaced", None))
    return units


def _outcome_group(rows: list[Any]) -> dict[str, Any]:
    bodies = [_outcome_body(r) for r in rows]
    metrics: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for body in bodies:
        metrics[(body["metric"], body["unit"])].append(body)
    evaluations: dict[str, dict[str, Any]] = {}
    for r, body in zip(rows, bodies, strict=True):
        url = body["report"]["url"]
        if url and url not in evaluations:
            evaluations[url] = {
                "url": url, "type": body["report"]["type"],
                "service": {"id": r.service_id, "ref": r.service_ref, "name": r.service_name},
                "period": body["period"],
            }  # fmt: skip
    return {
        "services": len({r.service_id for r in rows}),
        **_outcome_counts(bodies),
        "metrics": [
            {
                "metric": m,
                "unit": u,
                "targets": sorted({b["target"] for b in bs if b["target"] is not None}),
                **{k: v for k, v in _outcome_counts(bs).items() if k != "share_met"},
            }  # fmt: skip
            for (m, u), bs in sorted(metrics.items(), key=lambda i: (i[0][0], i[0][1] or ""))
        ],
        "evaluations": list(evaluations.values()),
    }
