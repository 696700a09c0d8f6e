"""Writing funding opportunities (bidding rounds): upserted by ref, each change a change
event (entity ``opportunity``) with old → new values, as the other records are. One writer
for the template's "Opportunities" sheet, the demo directory and the officers' API writes.

Checking a record's values against the directory (themes, areas, programme, lengths) is
here too, so every way in refuses the same things with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from directory.ingest.records import OpportunityRecord, Problem, published
from directory.store.models import Opportunity
from directory.store.repositories.opportunities import OpportunityRepository

#: the record's fields that are kept as they are (the rest: amounts, times, themes, areas)
PLAIN_FIELDS = (
    "title", "funder_name", "summary", "eligibility", "small_org_friendly", "small_org_rule",
    "awards_expected", "decision_date", "grant_months_min", "grant_months_max",
    "how_to_apply_url", "contact_name", "contact_email", "contact_public", "demo",
)  # fmt: skip
#: column → the record's field, where they differ
AMOUNTS = {"amount_min_pence": "amount_min", "amount_max_pence": "amount_max",
           "total_pot_pence": "total_pot"}  # fmt: skip


def utc_naive(moment: datetime) -> datetime:
    """An aware time as the store keeps it: naive UTC, to the second."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def pence(amount: Decimal | None) -> int | None:
    return None if amount is None else int((amount * 100).to_integral_value())


def state_of(rec: OpportunityRecord) -> dict[str, Any]:
    """The record as stored values (without id, source and dates of the row itself), the
    funder by name and ref and themes and areas sorted, for comparing with what is held."""
    state: dict[str, Any] = {f: getattr(rec, f) for f in PLAIN_FIELDS}
    for column, name in AMOUNTS.items():
        state[column] = pence(getattr(rec, name))
    state["funder_ref"] = rec.funder_ref
    state["programme_id"] = rec.programme
    state["opens_at"] = None if rec.opens_at is None else utc_naive(rec.opens_at)
    state["closes_at"] = utc_naive(rec.closes_at)
    state["themes"] = sorted(set(rec.themes))
    state["areas"] = sorted(set(rec.areas))
    return state


def held_state(row: Any, themes: list[str], areas: list[str]) -> dict[str, Any]:
    state: dict[str, Any] = {f: getattr(row, f) for f in PLAIN_FIELDS}
    for column in AMOUNTS:
        state[column] = getattr(row, column)
    state["funder_ref"] = row.funder_ref
    state["programme_id"] = row.programme_id
    state["opens_at"] = row.opens_at
    state["closes_at"] = row.closes_at
    state["themes"] = sorted(themes)
    state["areas"] = sorted(areas)
    return state


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [_json(old.get(name)), _json(value)]
        for name, value in new.items()
        if old.get(name) != value
    }


def crossed(rec: OpportunityRecord) -> list[Problem]:
    """What is wrong with the record's values taken together, or a number below 0 (each a
    problem naming its field): what the sheet's reader can say of a row whose cells it
    read, beside the other rows' cell errors, rather than once they are all mended."""
    problems: list[Problem] = []

    def bad(column: str, message: str, value: Any = None) -> None:
        problems.append(Problem(message, None, column, None if value is None else str(value)))

    if rec.opens_at is not None and rec.opens_at >= rec.closes_at:
        bad("opens_at", "An opportunity must open before it closes.", rec.opens_at.isoformat())
    for low, high, what in (
        ("amount_min", "amount_max", "The smallest award is more than the largest."),
        ("grant_months_min", "grant_months_max", "The shortest grant is longer than the longest."),
    ):
        a, b = getattr(rec, low), getattr(rec, high)
        if a is not None and b is not None and a > b:
            bad(low, what, f"{a} > {b}")
    for name in ("amount_min", "amount_max", "total_pot", "awards_expected",
                 "grant_months_min", "grant_months_max"):  # fmt: skip
        value = getattr(rec, name)
        if value is not None and value < 0:
            bad(name, "Must not be negative.", value)
    return problems


def check(
    rec: OpportunityRecord, *, themes: set[str], areas: set[str], programmes: set[str]
) -> list[Problem]:
    """What is wrong with the record's values (each a problem naming its field)."""
    problems = crossed(rec)

    def bad(column: str, message: str, value: Any = None) -> None:
        problems.append(Problem(message, None, column, None if value is None else str(value)))

    unknown = sorted(set(rec.themes) - themes)
    if unknown:
        bad("themes", f"Unknown theme ids: {', '.join(unknown)} (see /api/v1/themes).")
    outside = sorted(set(rec.areas) - areas)
    if outside:
        bad("areas", f"Unknown area codes: {', '.join(outside)}.")
    if not rec.areas:
        bad("areas", "An opportunity needs at least one area (London-wide is E12000007).")
    if rec.programme is not None and rec.programme not in programmes:
        bad("programme", f"Unknown programme id {rec.programme!r} (see /api/v1/programmes).")
    limits = {c.name: c.type.length for c in Opportunity.__table__.columns
              if getattr(c.type, "length", None)}  # fmt: skip
    for name, value in [("ref", rec.ref), *((f, getattr(rec, f)) for f in PLAIN_FIELDS)]:
        limit = limits.get(name)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            bad(name, f"{len(value)} characters long; at most {limit} are kept.")
    return problems


@dataclass
class Written:
    """What writing a set of opportunities did: counts, change events, problems."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0}
    )
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # ref → id
    #: the opportunities withdrawn and restored: action → (ref, title) of each
    named: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def write(
    repo: OpportunityRepository, records: Iterable[OpportunityRecord], *, source: str,
    at: datetime, run_id: int | None = None, full: bool = False, actor: str | None = None,
    org_ids: dict[str, int] | None = None, keep_owner: bool = False,
) -> Written:  # fmt: skip
    """Upsert the records by ref (the last of a ref wins); in ``full`` mode withdraw this
    source's opportunities it no longer lists. ``org_ids``: organisations the same write
    has just made (ref → id), beside those held. One another source holds moves to
    ``source`` (a change of its ``source``, recorded) unless ``keep_owner`` (the API's
    edits, as a service's); an import refuses such a move unless told to take it over
    (``directory.ingest.apply``). Nothing is checked here (see :func:`check`): the caller
    rolls back on problems."""
    out = Written()
    by_ref = {rec.ref: rec for rec in records}
    held = {row.ref: row for row in repo.states(refs=by_ref)}
    themes = repo.themes_of([row.id for row in held.values()])
    areas = repo.areas_of([row.id for row in held.values()])
    funders = {rec.funder_ref for rec in by_ref.values() if rec.funder_ref}
    # a funder merged into another organisation is that one (its ref, an alias, is no more)
    merged = repo.merged_refs(funders)
    for rec in by_ref.values():
        if rec.funder_ref in merged:
            rec.funder_ref = merged[rec.funder_ref]
    funders = {merged.get(ref, ref) for ref in funders}
    org = {**repo.organisation_ids(funders), **(org_ids or {})}
    by = f" by {actor}" if actor else ""

    def event(oid: int, ref: str, action: str, title: str, changes: dict[str, Any],
              codes: Iterable[str]) -> None:  # fmt: skip
        verb = {"created": "added", "updated": "changed", "withdrawn": "withdrawn",
                "restored": "restored"}[action]  # fmt: skip
        detail = f": {', '.join(sorted(changes))}" if action == "updated" else ""
        out.events.append({
            "import_run_id": run_id, "at": at, "entity": "opportunity", "entity_id": oid,
            "entity_ref": ref, "action": action, "changes": changes,
            "summary": f"Opportunity '{title}' {verb}{by}{detail}"[:500], "areas": set(codes),
            "actor": actor,
        })  # fmt: skip

    for ref, rec in by_ref.items():
        new = state_of(rec)
        # a funder ref that is no organisation held is not kept (its name is)
        new["funder_ref"] = rec.funder_ref if rec.funder_ref in org else None
        columns = {k: v for k, v in new.items() if k not in ("themes", "areas", "funder_ref")}
        columns["funder_id"] = org.get(rec.funder_ref or "")
        row = held.get(ref)
        if row is None:
            oid = repo.insert({**columns, "ref": ref, "source": source, "created_at": at,
                               "updated_at": at})  # fmt: skip
            repo.set_themes(oid, new["themes"])
            repo.set_areas(oid, new["areas"])
            out.counts["created"] += 1
            out.ids[ref] = oid
            event(oid, ref, "created", rec.title, {}, new["areas"])
            continue
        out.ids[ref] = row.id
        old = held_state(row, [t for t, _ in themes.get(row.id, [])], areas.get(row.id, []))
        changes = diff(old, new)
        # a contact not to be published never reaches the change feed
        published(changes, ("contact_name", "contact_email"),
                  (old["contact_public"], new["contact_public"]))  # fmt: skip
        owner = row.source if keep_owner else source
        if row.source != owner:  # taken over: the source decides what a full import withdraws
            changes["source"] = [row.source, owner]
        restored = row.withdrawn_at is not None
        if not changes and not restored:
            out.counts["unchanged"] += 1
            continue
        repo.update(row.id, {**columns, "source": owner, "withdrawn_at": None, "updated_at": at})
        if "themes" in changes:
            repo.set_themes(row.id, new["themes"])
        if "areas" in changes:
            repo.set_areas(row.id, new["areas"])
        action = "restored" if restored else "updated"
        out.counts[action] = out.counts.get(action, 0) + 1
        if restored:
            out.named.setdefault(action, []).append((ref, rec.title))
        event(row.id, ref, action, rec.title, changes, set(old["areas"]) | set(new["areas"]))
    if full:
        gone = [row for row in repo.states(source=source)
                if row.ref not in by_ref and row.withdrawn_at is None]  # fmt: skip
        repo.withdraw([row.id for row in gone], at)
        gone_areas = repo.areas_of([row.id for row in gone])
        for row in gone:
            out.counts["withdrawn"] = out.counts.get("withdrawn", 0) + 1
            out.named.setdefault("withdrawn", []).append((row.ref, row.title))
            event(row.id, row.ref, "withdrawn", row.title, {}, gone_areas.get(row.id, []))
    return out
