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
    Which organisation each recipient is and which programme each decision belongs to are
    set in ``data/decisions.toml`` (module ``decisions``).
``demo-committee-services``
    The services named in the London Assembly Police and Crime Committee's 2020 letter
    (Safer London's Rescue and Response, Oxygen's knife-crime programme in Kingston funded
    through the Kingston Safer Neighbourhood Board, Victim Support's London Victim and
    Witness Service) and one illustrative service with a delivery site in each of the 12 Met
    BCUs, with grants, outcomes and patch contacts; and illustrative funding opportunities
    (``data/opportunities.toml``, module ``opportunities``: dated from the load's week). The organisations are real; every
    invented detail (amounts, dates, sites, contacts, outcome figures) is marked ``demo``.
    The records are the data files ``data/services.toml``, ``borough_services.csv``,
    ``grants.csv``, ``outcomes.csv`` and ``contacts.csv`` (module ``committee``).
``demo-360giving``
    The 841 real 360Giving grants of ``grants/grantnav_fixture_grants_london_recipients_
    360giving.json``, read as they are (nothing marked ``demo``).

Organisations named in more than one source come from one place (``data/organisations.csv``,
the councils built from the boroughs and ``data/councils.csv``, or the 360Giving reading), so
every source describes them identically and re-loading the demo finds nothing to change.
Dates that must be recent (``last_verified``, the current financial year) are anchored on the
first day of the current month, so the demo changes at most monthly.

The data files are read and checked by ``loader`` (``data/README.md`` describes them); a
mistake in one raises :class:`DemoDataError` naming the file, row and value.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from directory.demo.committee import Committee
from directory.demo.common import (
    BCUS,
    DECISIONS,
    GIVING360,
    POSTCODES,
    Borough,
    check_councils,
    pick_postcodes,
    read_boroughs,
    themes_in,
)
from directory.demo.decisions import Decisions
from directory.demo.loader import DemoData, DemoDataError, load_demo_data
from directory.demo.opportunities import read_opportunities
from directory.ingest.giving360 import read_360giving_json
from directory.ingest.records import Batch, Context
from directory.progress import QUIET, Progress
from geodata.sources import data_file

__all__ = [
    "BCUS",
    "DECISIONS",
    "DEMO_SOURCES",
    "GIVING360",
    "POSTCODES",
    "Borough",
    "DemoData",
    "DemoDataError",
    "build_demo",
    "load_demo_data",
    "pick_postcodes",
    "read_boroughs",
    "themes_in",
]

DEMO_SOURCES = ("demo-mopac-decisions", "demo-committee-services", "demo-360giving")


def build_demo(
    data_dir: Path, ctx: Context, *, today: date | None = None, progress: Progress = QUIET
) -> list[tuple[str, Batch]]:
    """The demo sources, in load order: (source name, batch) for each of ``DEMO_SOURCES``.
    ``data_dir`` is a London data directory (the packaged snapshot, a refreshed release
    or one laid out like shared/data); its files are found by manifest key. ``progress``
    is told each source's step."""
    data_dir = Path(data_dir)
    decisions_name, committee_name, giving_name = DEMO_SOURCES
    data = load_demo_data()
    progress.step("demo: reading the boroughs and BCUs")
    boroughs = read_boroughs(data_dir)
    check_councils(data, {b.code: b for b in boroughs})
    giving_file = data_file(data_dir, GIVING360)
    progress.step(f"{giving_name}: reading {giving_file.name}")
    giving = read_360giving_json(giving_file.read_bytes(), ctx)
    orgs_360 = {org.ref: org for org in giving.organisations}
    today = today or date.today()
    progress.step(f"{decisions_name}: reading {data_file(data_dir, DECISIONS).name}")
    decisions = Decisions(data_dir, ctx, data, boroughs, orgs_360, today).build()
    progress.step(f"{committee_name}: building the Committee-named services")
    committee = Committee(data_dir, ctx, data, boroughs, today).build()
    committee.opportunities = read_opportunities(data, today)
    committee.lists_opportunities = True
    return list(zip(DEMO_SOURCES, (decisions, committee, giving), strict=True))
