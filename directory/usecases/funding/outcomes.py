"""Outcomes: a service's reported outcomes, and outcome summaries by area and theme."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from directory.errors import ServiceNotFoundError
from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.funding import FundingQueries
from directory.usecases.catalogue import area_ref
from directory.usecases.funding.awards import (
    area_code,
    check_choice,
)
from directory.usecases.geography import LONDON, GeographySnapshot, area_scope


# -- outcomes ---------------------------------------------------------------------------------
def _outcome_body(row: Any) -> dict[str, Any]:
    met = None if row.value is None or row.target is None else row.value >= row.target
    return {
        "id": row.id,
        "metric": row.metric,
        "period": {
            "start": row.period_start.isoformat() if row.period_start else None,
            "end": row.period_end.isoformat() if row.period_end else None,
        },
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
    outcomes = [_outcome_body(r) for r in fq.outcomes_of(service.id)]
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
        "rule": "met_target: value ≥ target (null when either is missing). Outcomes are "
        "reported by the provider or funder; report.type is interim or final.",
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
    fq: FundingQueries, snap: GeographySnapshot, *, by: str, area: str | None = None
) -> dict[str, Any]:
    check_choice("by", by, ("borough", "theme"))
    code = area_code(snap, area)
    scope = set(area_scope(snap, code)) if code else None
    rows = fq.listed_outcomes()
    service_ids = sorted({r.service_id for r in rows})
    places = fq.service_places(service_ids)
    if scope is not None:
        rows = [r for r in rows if not scope.isdisjoint(places.get(r.service_id, ()))]
        service_ids = sorted({r.service_id for r in rows})
    groups: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
    if by == "theme":
        themes = fq.service_themes(service_ids)
        for r in rows:
            for theme in themes.get(r.service_id) or [None]:
                groups[("theme", theme)].append(r)
    else:
        for r in rows:
            for kind, key in _service_units(snap, places.get(r.service_id, set())):
                groups[(kind, key)].append(r)
    answer: dict[str, Any] = {
        "by": by,
        "area": area_ref(snap, code) if code else None,
        "totals": _outcome_group(rows),
    }
    if by == "theme":
        names = fq.theme_names()
        answer["themes"] = [
            {"theme": {"id": t, "name": names.get(t, t)} if t else None, **_outcome_group(g)}
            for (_, t), g in sorted(groups.items(), key=lambda i: (i[0][1] is None, i[0][1] or ""))
        ]
    else:

        def listed(kind: str) -> list[dict[str, Any]]:
            found = [(c, g) for (k, c), g in groups.items() if k == kind and c]
            found.sort(key=lambda i: snap.areas[i[0]].name if i[0] in snap.areas else i[0])
            return [{"area": area_ref(snap, c), **_outcome_group(g)} for c, g in found]

        answer["boroughs"] = listed("borough")
        answer["bcu_wide"] = listed("bcu")
        answer["london_wide"] = _outcome_group(groups.get(("london", LONDON), []))
        answer["unplaced"] = _outcome_group(groups.get(("unplaced", None), []))
        answer["rule"] = (
            "A service's outcomes count for every borough it serves or has a site in (its "
            "wards count for their borough); services for all of London or a whole BCU are "
            "reported in london_wide and bcu_wide, not repeated under every borough."
        )
    return answer


def _service_units(snap: GeographySnapshot, codes: set[str]) -> set[tuple[str, str | None]]:
    known = {c for c in codes if c in snap.areas}
    if not known:
        return {("unplaced", None)}
    units: set[tuple[str, str | None]] = set()
    for code in known:
        kind = snap.areas[code].type
        if kind == "region":
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
