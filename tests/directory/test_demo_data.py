"""The demo's data files (directory/demo/data): the packaged files load, and a mistake in
one (a missing or unknown column, a blank or malformed value, an unknown theme, programme or
reference, a duplicate ref) stops the demo with a message naming the file, row and value."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

import directory.demo
from directory.demo import DemoDataError, build_demo, load_demo_data, opportunities
from directory.demo.loader import DATA, SCHEMAS
from directory.ingest.context import GeographyContext
from directory.store.repositories.geography import GeographyRepository


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """A copy of the packaged data files to spoil."""
    return Path(shutil.copytree(DATA, tmp_path / "data"))


def edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def fails(folder: Path, *parts: str) -> str:
    """The error loading ``folder`` gives; it contains each of ``parts``."""
    with pytest.raises(DemoDataError) as raised:
        load_demo_data(folder)
    message = str(raised.value)
    for part in parts:
        assert part in message, message
    return message


def test_the_packaged_files_load_and_every_file_is_read():
    data = load_demo_data()
    assert data.services and data.borough_services and data.grants and data.organisations
    files = {p.name for p in DATA.iterdir()} - {"README.md"}
    # the opportunities file is read, and checked, by directory/demo/opportunities.py
    assert files == {name for name in SCHEMAS if "." in name} | {opportunities.FILE}
    assert opportunities.read_opportunities(data, date(2026, 11, 30))


def test_a_missing_column(data: Path):
    edit(data, "grants.csv", "title,programme,", "title,")
    fails(data, "grants.csv", "no column 'programme'", "the columns are ref, funder")


def test_an_unknown_column(data: Path):
    edit(data, "contacts.csv", "phone\n", "phone,mobile\n")
    fails(data, "contacts.csv", "unknown column 'mobile'")


def test_an_unknown_key_in_toml(data: Path):
    edit(data, "services.toml", "min_age = 10", "min_ages = 10")
    fails(data, "services.toml, service 1", "unknown key 'min_ages'")


def test_a_blank_required_value(data: Path):
    edit(data, "organisations.csv", "org:oxygen,Oxygen,", "org:oxygen,,")
    fails(data, "organisations.csv row 6", "name is blank")


def test_a_malformed_value(data: Path):
    edit(data, "borough_services.csv", "2,40000", "two,40000")
    fails(data, "borough_services.csv row 2 (demo-westminster-idva)", "verified_weeks_ago 'two'")
    edit(data, "borough_services.csv", "two,40000", "2,40000")
    edit(data, "outcomes.csv", "2023-04-01", "2023-13-01")
    fails(data, "outcomes.csv row 2", "period_start '2023-13-01' is not a date")


def test_an_unknown_theme(data: Path):
    edit(data, "borough_services.csv", "hate crime; victims", "hate crime; vandalism")
    fails(data, "borough_services.csv row 4 (demo-hackney-hate-crime)", "'vandalism'", "themes.csv")
    edit(data, "borough_services.csv", "vandalism", "victims")
    edit(data, "services.toml", 'themes = "victims; witnesses"', 'themes = "witness protection"')
    fails(
        data, "services.toml, service 3 (london-victim-and-witness-service)", "'witness protection'"
    )


def test_an_unknown_programme(data: Path):
    edit(data, "grants.csv", ",snb,31250,", ",snb fund,31250,")
    fails(data, "grants.csv row 3", "'snb fund'", "programmes.csv")
    edit(data, "grants.csv", "snb fund", "snb")
    edit(data, "decisions.toml", 'programme = "VRU"', 'programme = "Violence Unit"')
    fails(data, "decisions.toml, programme 5", "'Violence Unit'", "programmes.csv")


def test_a_regrant_rule_with_a_code_not_in_the_codelist(data: Path):
    edit(data, "decisions.toml", 'regrant_type = "FRG010"', 'regrant_type = "FRG999"')
    fails(data, "decisions.toml, regrant 1", "'FRG999'")


def test_an_unknown_organisation_type(data: Path):
    edit(data, "organisations.csv", "Oxygen,voluntary", "Oxygen,charity")
    fails(data, "organisations.csv row 6", "type 'charity' is not an organisation type")


@pytest.mark.parametrize(
    ("name", "old", "new", "parts"),
    [
        (
            "grants.csv",
            ",org:oxygen,",
            ",org:oxygen-trust,",
            ["grants.csv row 4", "recipient 'org:oxygen-trust' is not in organisations.csv"],
        ),
        (
            "grants.csv",
            "demo-kingston-snb-2023-24,,the Kingston",
            "demo-kingston-snb-2022-23,,the Kingston",
            ["grants.csv row 4", "parent 'demo-kingston-snb-2022-23' is not in grants.csv"],
        ),
        (
            "outcomes.csv",
            "rescue-and-response,referrals",
            "rescue-response,referrals",
            ["outcomes.csv row 3", "service 'rescue-response' is not in services.toml"],
        ),
        (
            "services.toml",
            'organisation = "org:victim-support"',
            'organisation = "org:victims-support"',
            ["services.toml, service 3", "organisation 'org:victims-support'"],
        ),
        (
            "decisions.toml",
            'organisation = "org:safer-london"',
            'organisation = "org:safer-londn"',
            ["decisions.toml, recipient 5", "'org:safer-londn' is not in organisations.csv"],
        ),
    ],
)
def test_an_unknown_reference(data: Path, name: str, old: str, new: str, parts: list[str]):
    edit(data, name, old, new)
    fails(data, *parts)


def test_a_duplicate_ref(data: Path):
    edit(data, "organisations.csv", "org:oxygen,", "org:safer-london,")
    fails(data, "organisations.csv row 6", "ref 'org:safer-london' is given twice", "row 3")


def test_a_duplicate_ref_across_files(data: Path):
    edit(data, "borough_services.csv", "demo-hackney-hate-crime,", "rescue-and-response,")
    fails(data, "borough_services.csv row 4", "ref 'rescue-and-response' is given twice")


def test_a_rule_must_match_one_way(data: Path):
    edit(data, "decisions.toml", 'is = "Rescue and Response"', 'is = "Rescue"\ncontains = "R"')
    fails(data, "decisions.toml, recipient 5", "give exactly one of is, starts_with, contains")


def test_invalid_toml(data: Path):
    edit(data, "decisions.toml", 'funder = "GB-GOR-PC390"', "funder = GB-GOR-PC390")
    fails(data, "decisions.toml: not valid TOML")


# -- what only the London data can tell, checked when the demo is built ----------------------------
@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "borough_services.csv",
            "Central North,E09000019",
            "North,E09000019",
            r"borough_services.csv row 3 \(demo-islington-youth-mentoring\): Islington is not in "
            r"North BCU \(it is in Central North BCU\)",
        ),
        (
            "contacts.csv",
            "East BCU,",
            "Far East BCU,",
            r"contacts.csv row 3, area: 'Far East BCU' is not a London area",
        ),
        (
            "councils.csv",
            "E09000011,Greenwich",
            "E09000011,Greenwich Borough",
            r"councils.csv row 3: borough 'Greenwich Borough' is not the name of E09000011",
        ),
    ],
)
def test_london_data_mistakes_stop_the_build(
    geo_app, shared_data_dir: Path, data: Path, monkeypatch, name, old, new, message
):  # type: ignore[no-untyped-def]
    edit(data, name, old, new)
    load_demo_data(data)  # the files themselves are well formed
    monkeypatch.setattr(directory.demo, "load_demo_data", lambda: load_demo_data(data))
    state = geo_app.extensions["directory"]
    with state.db.engine.connect() as connection:
        repo = GeographyRepository(connection)
        ctx = GeographyContext(state.geography.get(repo), repo)
        with pytest.raises(DemoDataError, match=re.compile(message)):
            build_demo(shared_data_dir, ctx, today=date(2024, 6, 15))
