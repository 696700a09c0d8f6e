"""The 360Giving readers: the real GrantNav extract, the flat CSV/XLSX form, hostile input."""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from directory.ingest.codelists import codes
from directory.ingest.giving360 import (
    own_org_ref,
    own_ref,
    published_id,
    published_org_id,
    read_360giving_json,
    read_360giving_table,
)
from directory.ingest.records import Batch
from tests.conftest import shared_data_path
from tests.directory.ingest.fakes import KINGSTON, LONDON, TOWER_HAMLETS, FakeContext

GRANTS_FILE = (
    shared_data_path() / "grants" / "grantnav_fixture_grants_london_recipients_360giving.json"
)


@pytest.fixture(scope="module")
def raw() -> bytes:
    return GRANTS_FILE.read_bytes()


@pytest.fixture(scope="module")
def grants(raw: bytes) -> list[dict[str, Any]]:
    return json.loads(raw, parse_float=Decimal)["grants"]


@pytest.fixture(scope="module")
def batch(raw: bytes) -> Batch:
    return read_360giving_json(raw, FakeContext())


def grant(**changes: Any) -> dict[str, Any]:
    """A small valid grant, with changes (a value of None removes the key)."""
    base: dict[str, Any] = {
        "id": "360G-test-1",
        "title": "Youth mentoring",
        "description": "Mentoring for young people at risk of exploitation",
        "currency": "GBP",
        "amountAwarded": 45000,
        "awardDate": "2021-06-01",
        "plannedDates": [{"startDate": "2021-07-01", "endDate": "2022-06-30"}],
        "recipientOrganization": [
            {
                "id": "GB-CHC-1111111",
                "name": "Kingston Youth Trust",
                "url": "https://www.kyt.org.uk",
            }
        ],
        "fundingOrganization": [
            {"id": "GB-GOR-PC390", "name": "Mayor's Office for Policing and Crime"}
        ],
        "grantProgramme": [{"title": "London Crime Prevention Fund"}],
        "beneficiaryLocation": [{"geoCode": KINGSTON, "geoCodeType": "LAD"}],
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def read(*items: Any) -> Batch:
    return read_360giving_json(json.dumps({"grants": list(items)}).encode(), FakeContext())


def only_error(batch: Batch):
    assert len(batch.errors) == 1, batch.problems
    return batch.errors[0]


# -- the real file -----------------------------------------------------------------------------
def test_real_file_reads_without_errors(batch: Batch, grants: list[dict[str, Any]]) -> None:
    assert batch.errors == []
    assert len(batch.grants) == len(grants) == 841
    assert [g.ref for g in batch.grants] == [g["id"] for g in grants]
    assert batch.services == []
    assert all(g.service_refs is None for g in batch.grants)  # the links held are kept


def test_real_file_every_grant_has_london_areas_or_a_warning(batch: Batch) -> None:
    ctx = FakeContext()
    warned = {p.row for p in batch.problems if "No London area" in p.message}
    for row, record in enumerate(batch.grants, start=1):
        assert record.areas or row in warned, record.ref
        assert all(ctx.area_code(code) == code for code in record.areas)
        assert not (record.areas and row in warned)
    assert sum(1 for g in batch.grants if g.areas) >= 180


def test_real_file_old_ward_codes_dropped_but_borough_kept(batch: Batch) -> None:
    wolfson = next(g for g in batch.grants if g.ref == "360G-wolfson-19750")
    # recipientDistrictGeoCode E09000030 and a 2014 ward still current in 2025; the
    # locationLookup derived from the (absent) beneficiary location is outside London
    assert wolfson.areas == [TOWER_HAMLETS, "E05009327"]
    orpington = next(g for g in batch.grants if g.ref == "360G-wolfson-19754")
    assert orpington.areas == ["E09000006"]  # Bromley; ward E05000122 predates 2022, dropped


def test_real_file_amounts_total(batch: Batch, grants: list[dict[str, Any]]) -> None:
    expected = sum(Decimal(str(g["amountAwarded"])) for g in grants)
    assert sum(g.amount for g in batch.grants) == expected
    assert all(g.currency == "GBP" for g in batch.grants)


def test_real_file_dates_read_day_first(batch: Batch, grants: list[dict[str, Any]]) -> None:
    uk = [(g["id"], g["awardDate"]) for g in grants if "/" in g["awardDate"]]
    assert uk, "the fixture has UK-style dates"
    by_ref = {g.ref: g for g in batch.grants}
    for ref, text in uk:
        day, month, year = (int(part) for part in text.split("/"))
        assert by_ref[ref].awarded == date(year, month, day)
    wolfson = by_ref["360G-wolfson-19750"]
    assert wolfson.awarded == date(2014, 6, 5)
    assert wolfson.financial_year == "2014/15"


def test_real_file_planned_dates_and_programmes(batch: Batch) -> None:
    enfield = next(g for g in batch.grants if g.ref == "360G-LBFEW-104108")
    assert (enfield.start, enfield.end, enfield.duration_months) == (
        date(2013, 10, 1),
        date(2015, 10, 1),
        24,
    )
    assert enfield.awarded == date(2013, 8, 28)
    assert enfield.financial_year == "2013/14"
    assert enfield.programme == "xa8-community"
    # a placeholder end date before the start (2000-12-31 for 2017-12-21) is a warning, and
    # both dates are left out: a start alone would make the grant live for ever
    locality = next(g for g in batch.grants if g.ref == "360G-ptc-gr-02264")
    assert (locality.start, locality.end) == (None, None)
    (warning,) = [p for p in batch.problems if p.column == "grants[754].plannedDates[0].endDate"]
    assert "both dates are left out" in warning.message
    assert warning.value.startswith("2000-12-31")


def test_real_file_organisations_deduplicated(batch: Batch, grants: list[dict[str, Any]]) -> None:
    refs = [o.ref for o in batch.organisations]
    assert len(refs) == len(set(refs))
    expected = {g["fundingOrganization"][0]["id"] for g in grants} | {
        g["recipientOrganization"][0]["id"] for g in grants
    }
    assert set(refs) == expected
    orgs = {o.ref: o for o in batch.organisations}
    lloyds = orgs["GB-CHC-327114"]
    assert lloyds.type == "voluntary" and lloyds.charity_number == "327114"
    enfield = orgs["GB-CHC-1068861"]
    assert enfield.name == "Enfield Mencap"
    assert enfield.website == "https://www.enfieldmencap.org.uk"
    for g in batch.grants:
        assert g.funder_ref in orgs and g.recipient_ref in orgs


def test_real_file_bad_websites_are_warnings(batch: Batch) -> None:
    web = [p for p in batch.problems if p.column and p.column.endswith(".url")]
    assert web and all(p.severity == "warning" for p in web)


# -- hostile JSON ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"",
        b"   ",
        b'"a string"',
        b"42",
        b"null",
        b'{"foo": []}',
        b'{"grants": {"id": "x"}}',
        b'{"grants": []}',
        b"\xff\xfe\x00garbage",
        b'{"grants": [{"amountAwarded": NaN}]}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_unreadable_packages_give_one_error(data: bytes) -> None:
    batch = read_360giving_json(data, FakeContext())
    assert len(batch.problems) == 1 and batch.problems[0].severity == "error"
    assert batch.grants == [] and batch.organisations == []


def test_bom_and_top_level_list_accepted() -> None:
    data = b"\xef\xbb\xbf" + json.dumps([grant()]).encode()
    batch = read_360giving_json(data, FakeContext())
    assert batch.errors == []
    assert len(batch.grants) == 1
    assert only_error(read_360giving_json(b"\xef\xbb\xbf[1]", FakeContext())).column == "[0]"


def test_small_grant_mapping() -> None:
    batch = read(grant(regrantType="FRG010", parentGrant="360G-test-0", dataSource="x.org/data"))
    # read (with https:// added) though the schema wants a full URI: a warning, no error
    assert [(p.severity, p.column) for p in batch.problems] == [("warning", "grants[0].dataSource")]
    (record,) = batch.grants
    assert record.ref == "360G-test-1"
    assert record.funder_ref == "GB-GOR-PC390" and record.recipient_ref == "GB-CHC-1111111"
    assert record.amount == Decimal("45000.00")
    assert record.awarded == date(2021, 6, 1) and record.financial_year == "2021/22"
    assert record.duration_months == 12
    assert record.programme == "london-crime-prevention-fund"
    assert record.areas == [KINGSTON]
    assert record.regrant_type == "FRG010"
    assert record.parent_ref == "360G-test-0"
    assert record.source_url == "https://x.org/data"
    orgs = {o.ref: o for o in batch.organisations}
    assert orgs["GB-GOR-PC390"].type == "police"
    assert orgs["GB-CHC-1111111"].type == "voluntary"
    assert orgs["GB-CHC-1111111"].website == "https://www.kyt.org.uk"


@pytest.mark.parametrize(
    ("description", "parent", "read_as"),
    [
        ("About. Paid through G-0: counted in that grant's amount.", "G-0", "About."),
        # the title, which the export writes for a grant with no description: none
        ("Youth mentoring Paid through G-0: counted in that grant's amount.", "G-0", None),
        # added once, taken off once: a description that said it itself keeps it
        ("A. Paid through G-0: counted in that grant's amount. "
         "Paid through G-0: counted in that grant's amount.", "G-0",
         "A. Paid through G-0: counted in that grant's amount."),
        # not the grant's parent, or no parent: a publisher's own words, kept
        ("About. Paid through G-9: counted in that grant's amount.", "G-0",
         "About. Paid through G-9: counted in that grant's amount."),
        ("About. Paid through G-0: counted in that grant's amount.", None,
         "About. Paid through G-0: counted in that grant's amount."),
        ("Paid through G-0: counted in that grant's amount.", "G-0",
         "Paid through G-0: counted in that grant's amount."),
    ],
    ids=["note", "title-and-note", "twice", "other-parent", "no-parent", "note-alone"],
)  # fmt: skip
def test_the_exports_paid_through_note_is_taken_off_the_description(
    description: str, parent: str | None, read_as: str | None
) -> None:
    """Our export ends the description of a grant paid through another with a sentence
    saying so, for readers of the standard alone; read back, exactly that addition goes."""
    (record,) = read(grant(description=description, parentGrant=parent)).grants
    assert record.parent_ref == parent
    assert record.description == read_as


def test_our_prefix_is_taken_off_our_ids_and_another_publishers_stay_whole() -> None:
    """360Giving ids start with the publisher's registered prefix; our export writes our
    own grants (``MOPAC-DEC-026``) under ours and the ids of grants read from 360Giving
    files as they are, so read back with our prefix: our ids lose it (the parent's too,
    and the "Paid through" sentence naming it by that id goes); an id under another
    publisher's prefix, or ours followed by a 360Giving id (which the export never
    prefixes), or our prefix alone, stays whole."""
    ours = "360G-demo-lfsd"
    note = "Paid through 360G-demo-lfsd-MOPAC-DEC-026: counted in that grant's amount."
    items = [
        grant(id=f"{ours}-MOPAC-DEC-025", parentGrant=f"{ours}-MOPAC-DEC-026",
              description=f"Part of the LCPF. {note}"),
        grant(id="360G-mopac-MOPAC-DEC-024", parentGrant="360G-mopac-MOPAC-DEC-026"),
        grant(id=f"{ours}-360G-wolfson-19917"),
        grant(id=f"{ours}-", title=f"Grant {ours}-"),
        grant(id=f"{ours}-MOPAC-DEC-027", title=f"Grant {ours}-MOPAC-DEC-027"),
    ]  # fmt: skip
    data = json.dumps({"grants": items}).encode()
    batch = read_360giving_json(data, FakeContext(giving360_prefix=ours))
    assert batch.errors == []
    refs = [(g.ref, g.parent_ref) for g in batch.grants]
    assert refs == [
        ("MOPAC-DEC-025", "MOPAC-DEC-026"),
        ("360G-mopac-MOPAC-DEC-024", "360G-mopac-MOPAC-DEC-026"),
        (f"{ours}-360G-wolfson-19917", None),
        (f"{ours}-", None),
        ("MOPAC-DEC-027", None),
    ]
    assert batch.grants[0].description == "Part of the LCPF."
    # the title our export gives a grant with none names it by the id it wrote
    assert [g.title for g in batch.grants[3:]] == [None, None]
    # with no prefix of ours, every id is whole
    plain = read_360giving_json(data, FakeContext())
    assert [g.ref for g in plain.grants] == [item["id"] for item in items]


@pytest.mark.parametrize(
    ("ref", "prefix", "published"),
    [
        ("MOPAC-DEC-026", "360G-mopac", "360G-mopac-MOPAC-DEC-026"),
        ("MOPAC-DEC-026", None, "MOPAC-DEC-026"),
        # a grant read from a 360Giving file keeps its publisher's id, any case of 360G
        ("360G-wolfson-19917", "360G-mopac", "360G-wolfson-19917"),
        ("360g-LBFEW-1", "360G-mopac", "360g-LBFEW-1"),
        ("demo-kingston-snb-2023-24", "360G-demo-lfsd", "360G-demo-lfsd-demo-kingston-snb-2023-24"),
    ],
)  # fmt: skip
def test_published_ids_read_back_as_the_refs_they_were_made_from(
    ref: str, prefix: str | None, published: str
) -> None:
    assert published_id(ref, prefix) == published
    assert own_ref(published, prefix) == ref


def test_our_prefix_is_taken_off_our_organisations_ids_and_others_stay_whole() -> None:
    """An organisation with no registered org-id is written by our export under our
    360Giving prefix (held as ``org:safer-london``, written ``<prefix>-safer-london``), as
    360Giving's guidance says: read back with our prefix it is that ref again. A
    registered org-id, another publisher's ``360G-`` id and our prefix alone stay whole;
    with no prefix of ours, every id is whole."""
    ours = "360G-demo-lfsd"
    items = [
        grant(id="360G-test-1",
              fundingOrganization=[{"id": f"{ours}-kingston-safer-neighbourhood-board",
                                    "name": "Kingston SNB"}],
              recipientOrganization=[{"id": f"{ours}-oxygen", "name": "Oxygen"}]),
        grant(id="360G-test-2",
              recipientOrganization=[{"id": "360G-LBFEW-SAFER", "name": "Safer Group"}]),
        grant(id="360G-test-3", recipientOrganization=[{"id": f"{ours}-", "name": "Blank"}]),
    ]  # fmt: skip
    data = json.dumps({"grants": items}).encode()
    batch = read_360giving_json(data, FakeContext(giving360_prefix=ours))
    assert batch.errors == []
    assert [(g.funder_ref, g.recipient_ref) for g in batch.grants] == [
        ("org:kingston-safer-neighbourhood-board", "org:oxygen"),
        ("GB-GOR-PC390", "360G-LBFEW-SAFER"),
        ("GB-GOR-PC390", f"{ours}-"),
    ]
    assert {o.ref for o in batch.organisations} == {
        "org:kingston-safer-neighbourhood-board", "org:oxygen", "GB-GOR-PC390",
        "360G-LBFEW-SAFER", f"{ours}-",
    }  # fmt: skip
    plain = read_360giving_json(data, FakeContext())
    assert plain.grants[0].recipient_ref == f"{ours}-oxygen"


@pytest.mark.parametrize(
    ("ref", "prefix", "published"),
    [
        ("org:london-community-foundation", "360G-mopac", "360G-mopac-london-community-foundation"),
        ("org:32-london-boroughs", "360G-demo-lfsd", "360G-demo-lfsd-32-london-boroughs"),
        ("org:london-community-foundation", None, "org:london-community-foundation"),
        # a registered org-id, or another publisher's 360G- one, is never rewritten
        ("GB-CHC-1091263", "360G-mopac", "GB-CHC-1091263"),
        ("GB-GOR-PC390", "360G-mopac", "GB-GOR-PC390"),
        ("360G-LBFEW-SAFER", "360G-mopac", "360G-LBFEW-SAFER"),
    ],
)  # fmt: skip
def test_published_organisation_ids_read_back_as_the_refs_they_were_made_from(
    ref: str, prefix: str | None, published: str
) -> None:
    assert published_org_id(ref, prefix) == published
    assert own_org_ref(published, prefix) == ref


def test_regrant_type_is_checked_against_the_standards_codelist_file() -> None:
    """The reader's Regrant Type codes are the standard's codelist file as shipped
    (standards/360giving/codelists/regrantType.csv), the one the export's tests and the
    data-quality tool read: each of its codes is taken, any other is an error."""
    listed = codes("regrantType")
    assert listed == tuple(f"FRG0{n}0" for n in range(1, 8))
    batch = read(*(grant(id=f"360G-test-{code}", regrantType=code) for code in listed))
    assert batch.errors == [] and [g.regrant_type for g in batch.grants] == list(listed)
    assert only_error(read(grant(regrantType="FRG080"))).column == "grants[0].regrantType"


def test_parent_grant_as_object_and_self_parent() -> None:
    assert read(grant(parentGrant={"id": "360G-p"})).grants[0].parent_ref == "360G-p"
    error = only_error(read(grant(parentGrant="360G-test-1")))
    assert error.column == "grants[0].parentGrant"


def test_missing_required_fields() -> None:
    for key, column in [
        ("id", "grants[0].id"),
        ("amountAwarded", "grants[0].amountAwarded"),
        ("awardDate", "grants[0].awardDate"),
        ("fundingOrganization", "grants[0].fundingOrganization[0].id"),
        ("recipientOrganization", "grants[0].recipientOrganization[0].id"),
    ]:
        batch = read(grant(**{key: None}))
        error = only_error(batch)
        assert (error.row, error.column) == (1, column), key
        assert batch.grants == [] and batch.organisations == []


@pytest.mark.parametrize("amount", [-500, "-£500", "lots", "£10-20k", True, {"value": 1}, "$500"])
def test_bad_amounts(amount: Any) -> None:
    error = only_error(read(grant(amountAwarded=amount)))
    assert error.column == "grants[0].amountAwarded" and error.row == 1


def test_amount_strings_and_decimals() -> None:
    assert read(grant(amountAwarded="£1.2m")).grants[0].amount == Decimal("1200000.00")
    data = b'{"grants": [' + json.dumps(grant()).encode().replace(b"45000", b"3239.34") + b"]}"
    assert read_360giving_json(data, FakeContext()).grants[0].amount == Decimal("3239.34")


def test_us_style_date_is_an_error() -> None:
    error = only_error(read(grant(awardDate="13/25/2020")))
    assert error.column == "grants[0].awardDate"
    assert error.value == "13/25/2020"
    assert "month 25" in error.message


def test_duplicate_ids_error_on_the_second() -> None:
    batch = read(grant(), grant(title="again"), grant(id="360G-test-2"))
    error = only_error(batch)
    assert (error.row, error.column) == (2, "grants[1].id")
    assert [g.ref for g in batch.grants] == ["360G-test-1", "360G-test-2"]
    assert batch.grants[0].title == "Youth mentoring"


def test_grants_to_individuals_are_not_imported() -> None:
    batch = read(grant(recipientOrganization=None, recipientIndividual={"id": "p1", "name": "A"}))
    error = only_error(batch)
    assert "individuals" in error.message and error.column == "grants[0].recipientIndividual"
    assert batch.grants == []


def test_other_hostile_values() -> None:
    assert only_error(read(5)).column == "grants[0]"
    assert "GBP" in only_error(read(grant(currency="USD"))).message
    assert only_error(read(grant(regrantType="FRG999"))).column == "grants[0].regrantType"
    assert only_error(read(grant(title={"a": 1}))).column == "grants[0].title"
    assert only_error(read(grant(fundingOrganization="GB-GOR-PC390"))).column == (
        "grants[0].fundingOrganization"
    )
    error = only_error(read(grant(plannedDates=[{"startDate": "2021-07-01", "duration": 2.5}])))
    assert error.column == "grants[0].plannedDates[0].duration"


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"title": "\ud800Grant"}, "grants[0].title", "damaged character (\\ud800"),
        ({"title": "a\x00b"}, "grants[0].title", "NUL character"),
        ({"recipientOrganization": [{"id": "GB-CHC-1", "name": "Trust\udfff"}]},
         "grants[0].recipientOrganization[0].name", "damaged character"),
        ({"additional_data": {"no\x00te": "x"}}, "grants[0].additional_data.no\\u0000te",
         "has a name that holds a NUL"),
    ],
)  # fmt: skip
def test_text_that_cannot_be_stored_is_an_error_naming_the_grant_and_field(
    changes: dict[str, Any], column: str, words: str
) -> None:
    """A lone surrogate (JSON's "\\ud800") or a NUL anywhere in a grant is an error of its
    row and field, and the grant is not read further (nor checked by the schema)."""
    batch = read(grant(**changes), grant(id="360G-test-2"))
    error = only_error(batch)
    assert (error.row, error.column) == (1, column)
    assert words in error.message and "cannot be stored" in error.message
    assert [g.ref for g in batch.grants] == ["360G-test-2"]


def test_a_nul_in_a_flat_sheet_names_its_row_and_column() -> None:
    data = _csv(
        [HEADER, [*ROW, "Kingston", "", ""], ["G-2", "Men\x00toring", *ROW[2:], "", "", ""]]
    )
    error = only_error(read_360giving_table(data, FakeContext()))
    assert (error.row, error.column) == (3, "Title") and "NUL character" in error.message
    assert batch_is_empty(read_360giving_table(data, FakeContext()))


def batch_is_empty(batch: Batch) -> bool:
    return not (batch.grants or batch.organisations)


def test_huge_strings() -> None:
    batch = read(grant(title="x" * 1_000_000, description="y" * 1_000_000))
    assert batch.errors == []
    (record,) = batch.grants
    assert len(record.title) <= 500 and len(record.description) <= 20_000
    assert all(len(p.value or "") <= 200 for p in batch.problems)
    error = only_error(read(grant(id="z" * 100_000)))
    assert error.column == "grants[0].id" and len(error.value) <= 200


def test_areas_from_names_non_london_codes_and_recipient_fallback() -> None:
    # a borough name where there is no code; a name we cannot place is a warning
    batch = read(grant(beneficiaryLocation=[{"name": "Kingston"}, {"name": "Narnia"}]))
    assert batch.errors == [] and batch.grants[0].areas == [KINGSTON]
    assert [p.column for p in batch.problems] == ["grants[0].beneficiaryLocation[1].name"]
    # codes outside London are dropped silently; with nothing left, a warning
    batch = read(grant(beneficiaryLocation=[{"geoCode": "E08000003"}]))
    assert batch.grants[0].areas == []
    assert [p.severity for p in batch.problems] == ["warning"]
    assert "outside London" in batch.problems[0].message
    # a London beneficiary location wins over the recipient's own district
    both = grant(
        additional_data={"recipientDistrictGeoCode": TOWER_HAMLETS},
        beneficiaryLocation=[{"geoCode": "e09000021"}],
    )
    assert read(both).grants[0].areas == [KINGSTON]
    # without a beneficiary location the recipient's codes are used (also flattened)
    flat = grant(beneficiaryLocation=None, recipientDistrictGeoCode=TOWER_HAMLETS)
    assert read(flat).grants[0].areas == [TOWER_HAMLETS]
    london = grant(beneficiaryLocation=[{"geoCode": LONDON}])
    assert read(london).grants[0].areas == [LONDON]


def test_size_band_from_additional_data() -> None:
    batch = read(grant(additional_data={"recipientOrgInfos": [{"latestIncome": 250_000}]}))
    orgs = {o.ref: o for o in batch.organisations}
    assert orgs["GB-CHC-1111111"].size_band == "medium"
    assert orgs["GB-GOR-PC390"].size_band is None


def test_organisation_fields_merged_across_grants() -> None:
    first = grant()
    second = grant(id="360G-test-2")
    second["recipientOrganization"] = [
        {"id": "GB-CHC-1111111", "name": "Other name", "companyNumber": "01234567"}
    ]
    batch = read(first, second)
    (org,) = [o for o in batch.organisations if o.ref == "GB-CHC-1111111"]
    assert org.name == "Kingston Youth Trust"
    assert org.company_number == "01234567"


# -- the flat spreadsheet ----------------------------------------------------------------------
COLUMNS = [
    ("Identifier", ("id",)),
    ("Title", ("title",)),
    ("Description", ("description",)),
    ("Currency", ("currency",)),
    ("Amount Awarded", ("amountAwarded",)),
    ("Award Date", ("awardDate",)),
    ("URL", ("url",)),
    ("Planned Dates:Start Date", ("plannedDates", 0, "startDate")),
    ("Planned Dates:End Date", ("plannedDates", 0, "endDate")),
    ("Planned Dates:Duration (months)", ("plannedDates", 0, "duration")),
    ("Recipient Org:Identifier", ("recipientOrganization", 0, "id")),
    ("Recipient Org:Name", ("recipientOrganization", 0, "name")),
    ("Recipient Org:Charity Number", ("recipientOrganization", 0, "charityNumber")),
    ("Recipient Org:Company Number", ("recipientOrganization", 0, "companyNumber")),
    ("Recipient Org:Postal Code", ("recipientOrganization", 0, "postalCode")),
    ("Recipient Org:Web Address", ("recipientOrganization", 0, "url")),
    ("Beneficiary Location:Geographic Code", ("beneficiaryLocation", 0, "geoCode")),
    ("Beneficiary Location:Geographic Code Type", ("beneficiaryLocation", 0, "geoCodeType")),
    ("Funding Org:Identifier", ("fundingOrganization", 0, "id")),
    ("Funding Org:Name", ("fundingOrganization", 0, "name")),
    ("Grant Programme:Title", ("grantProgramme", 0, "title")),
    ("Data Source", ("dataSource",)),
    ("For Regrant Type", ("regrantType",)),
    ("Recipient District Geographical Code", ("recipientDistrictGeoCode",)),
    ("Recipient Ward Geographical Code", ("recipientWardNameGeoCode",)),
]
SAMPLE_IDS = ["360G-wolfson-19750", "360G-LBFEW-104108", "360G-ptc-gr-01779", "360G-ptc-gr-02264"]


def _cell(g: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = g
    if path[0].startswith("recipient") and path[0].endswith("GeoCode"):
        node = g.get("additional_data", g)  # GrantNav puts these in additional_data
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _sample(grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {g["id"]: g for g in grants}
    chosen = [copy.deepcopy(by_id[ref]) for ref in SAMPLE_IDS]
    chosen[0]["title"] = "Grant to St Paul’s Way — café £"  # not ASCII, but in cp1252
    for g in chosen:
        g.get("additional_data", {}).pop("locationLookup", None)  # no flat form in GrantNav
    return chosen


def _json_batch(sample: list[dict[str, Any]]) -> Batch:
    data = json.dumps({"grants": sample}, default=str).encode()
    return read_360giving_json(data, FakeContext())


def test_csv_in_cp1252_gives_the_same_records(grants: list[dict[str, Any]]) -> None:
    sample = _sample(grants)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for title, _ in COLUMNS])
    for g in sample:
        writer.writerow(["" if (v := _cell(g, path)) is None else str(v) for _, path in COLUMNS])
    data = out.getvalue().encode("cp1252")
    batch = read_360giving_table(data, FakeContext())
    expected = _json_batch(sample)
    assert batch.errors == []
    assert batch.grants == expected.grants
    assert batch.organisations == expected.organisations
    assert batch.grants[0].title == "Grant to St Paul’s Way — café £"
    assert batch.grants[0].areas == [TOWER_HAMLETS, "E05009327"]
    # problems name the spreadsheet row and the column heading
    (warning,) = [p for p in batch.problems if p.row == 5]
    assert warning.column == "Planned Dates:End Date"


def test_xlsx_with_meta_sheet_gives_the_same_records(
    grants: list[dict[str, Any]], tmp_path: Path
) -> None:
    sample = _sample(grants)
    workbook = Workbook()
    meta = workbook.active
    meta.title = "Meta"
    meta.append(["Version", "1.4"])
    sheet = workbook.create_sheet("grants")
    sheet.append([title for title, _ in COLUMNS])
    for g in sample:
        row = []
        for title, path in COLUMNS:
            value = _cell(g, path)
            if title == "Amount Awarded":
                value = float(value)  # a number cell
            elif "Date" in title and value and "T" in str(value):
                value = datetime.fromisoformat(str(value)[:19])  # a date cell
            elif title == "Recipient Org:Charity Number" and value:
                value = int(value)  # Excel turns charity numbers into numbers
            row.append(value)
        sheet.append(row)
    path = tmp_path / "grants.xlsx"
    workbook.save(path)
    batch = read_360giving_table(path, FakeContext())
    expected = _json_batch(sample)
    assert batch.errors == []
    assert batch.grants == expected.grants
    assert batch.organisations == expected.organisations
    assert read_360giving_table(path.read_bytes(), FakeContext()).grants == expected.grants


def _csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


HEADER = [
    "Identifier",
    "Title",
    "Amount Awarded",
    "Award Date",
    "Recipient Org:Identifier",
    "Recipient Org:Name",
    "Funding Org:Identifier",
    "Funding Org:Name",
    "Beneficiary Location:Name",
    "Beneficiary Location:1:Geographic Code",
    "Parent Grant",
]
ROW = ["G-1", "Mentoring", "£45,000", "01/06/2021", "GB-CHC-1", "Trust", "GB-GOR-PC390", "MOPAC"]


def test_table_mapping_problems_and_numbered_columns() -> None:
    data = _csv(
        [
            HEADER,
            [*ROW, "Kingston", TOWER_HAMLETS, "G-0"],
            ["G-2", "Bad", "lots", "13/25/2020", "GB-CHC-1", "Trust", "GB-GOR-PC390", "MOPAC",
             "Narnia", "", ""],
            [*ROW, "", "", ""],
        ]
    )  # fmt: skip
    batch = read_360giving_table(data, FakeContext())
    errors = [(p.row, p.column) for p in batch.errors]
    assert errors == [(3, "Amount Awarded"), (3, "Award Date"), (4, "Identifier")]
    warnings = [(p.row, p.column) for p in batch.problems if p.severity == "warning"]
    assert (3, "Beneficiary Location:Name") in warnings
    (record,) = batch.grants
    assert record.amount == Decimal("45000.00") and record.awarded == date(2021, 6, 1)
    assert record.areas == [KINGSTON, TOWER_HAMLETS]
    assert record.parent_ref == "G-0"


def test_excel_error_values_are_each_their_cells_problem_and_checking_goes_on() -> None:
    """A CSV Excel wrote with its error values (#N/A …) stopped at the first: the file's one
    problem, the rest coming one import at a time. Each is a problem of its row and column
    title, saying what to do; the other cells and rows are still checked; a required cell
    holding one is not also said to be missing; a column not read is not looked at."""
    data = _csv(
        [
            [*HEADER, "Notes"],
            ["G-1", "Mentoring", "#N/A", "01/06/2021", "GB-CHC-1", "Trust", "GB-GOR-PC390",
             "MOPAC", "Kingston", "", "", "#REF!"],
            ["#VALUE!", "Bad", "lots", "01/06/2021", "#NAME?", "Trust", "GB-GOR-PC390", "MOPAC",
             "Kingston", "", ""],
            ["G-4", *ROW[1:], "Kingston", "", ""],
        ]
    )  # fmt: skip
    batch = read_360giving_table(data, FakeContext())
    assert {(p.row, p.column, p.value) for p in batch.errors} == {
        (2, "Amount Awarded", "#N/A"),
        (3, "Identifier", "#VALUE!"),
        (3, "Amount Awarded", "lots"),
        (3, "Recipient Org:Identifier", "#NAME?"),
    }
    (na,) = [p for p in batch.errors if p.value == "#N/A"]
    assert na.message == (
        "The cell holds Excel's error value #N/A: its formula's result is an error. Fix the "
        "formula, or type (or paste as values) what the cell should hold."
    )
    assert [g.ref for g in batch.grants] == ["G-4"]  # (the row without an error)


def test_table_missing_columns_and_unreadable_files() -> None:
    error = only_error(read_360giving_table(_csv([["Title", "Amount"], ["a", "1"]]), FakeContext()))
    assert "Identifier" in error.message and "Funding Org:Identifier" in error.message
    assert only_error(read_360giving_table(b"PK\x03\x04broken", FakeContext()))
    assert only_error(read_360giving_table(_csv([HEADER]), FakeContext()))
    individual = _csv(
        [
            ["Identifier", "Amount Awarded", "Award Date", "Funding Org:Identifier",
             "Recipient Ind:Identifier", "Recipient Ind:Name"],
            ["G-1", "100", "2021-01-01", "GB-GOR-PC390", "IND-1", "Someone"],
        ]
    )  # fmt: skip
    error = only_error(read_360giving_table(individual, FakeContext()))
    assert (error.row, error.column) == (2, "Recipient Ind")


@pytest.mark.parametrize(
    ("where", "column"),
    [
        ({"beneficiaryLocation": [{"geoCode": "E09999999", "geoCodeType": "LAD"}]},
         "grants[0].beneficiaryLocation[0].geoCode"),
        ({"beneficiaryLocation": None, "recipientDistrictGeoCode": "e09000099"},
         "grants[0].recipientDistrictGeoCode"),
    ],
)  # fmt: skip
def test_a_london_borough_code_that_does_not_exist_is_an_error(where, column) -> None:
    """E09 is London's own series: an unknown E09 code is a typing error, not a place outside
    London (which stays a warning)."""
    problem = only_error(read(grant(**where)))
    assert problem.column == column
    assert "no such borough" in problem.message and "E09000001 to E09000033" in problem.message
    outside = read(grant(beneficiaryLocation=[{"geoCode": "E08000003", "geoCodeType": "LAD"}]))
    assert outside.errors == [] and any("No London area" in w.message for w in outside.problems)


def test_schema_problems_are_warnings_naming_grant_and_path(raw: bytes, batch: Batch) -> None:
    """Each grant is checked against the 360Giving schema (1.4.3, shipped with the project);
    every place another implementation finds invalid (the Python jsonschema library on the
    same schema, formats checked) is one warning naming the grant (row) and its JSON path (column). The
    GrantNav fixture's 1,164: fromOpenCall "Y", dd/mm/yyyy awardDate, dateModified not a
    date-time, web addresses without a scheme; the first 1,000 listed, the rest counted.
    None of them blocks the import."""
    import jsonschema

    from directory.ingest.giving360 import GRANT_SCHEMA, MAX_SCHEMA_WARNINGS

    schema = json.loads(GRANT_SCHEMA.read_text("utf-8"))
    assert schema["$id"].endswith("/1.4.3/schema/360-giving-schema.json")
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    expected = set()
    for index, item in enumerate(json.loads(raw)["grants"]):
        for error in validator.iter_errors(item):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            expected.add((index + 1, f"grants[{index}]{path}"))
    found = {
        (p.row, p.column)
        for p in batch.problems
        if p.message.startswith("Not valid 360Giving") and p.severity == "warning"
    }
    # at most MAX_SCHEMA_WARNINGS listed (the grants in order), the rest counted
    assert len(expected) > MAX_SCHEMA_WARNINGS and found <= expected
    assert len(found) == MAX_SCHEMA_WARNINGS
    assert max(row for row, _ in found) <= min(row for row, _ in expected - found)
    more = len(expected) - MAX_SCHEMA_WARNINGS
    assert any(f"and {more:,} more" in p.message and f"({len(expected):,} in all)" in p.message
               for p in batch.problems)  # fmt: skip
    assert not batch.errors
    open_call = next(p for p in batch.problems if p.column.endswith(".fromOpenCall"))
    assert open_call.value == "Y" and '"Yes" or "No"' in open_call.message


def test_a_valid_grant_has_no_schema_warnings() -> None:
    item = grant()
    batch = read_360giving_json(json.dumps({"grants": [item]}).encode(), FakeContext())
    assert batch.problems == []
    item["recipientOrganization"][0]["url"] = "www.kyt.org.uk"  # no scheme, as publishers write
    batch = read_360giving_json(json.dumps({"grants": [item]}).encode(), FakeContext())
    assert [(p.severity, p.column, p.value) for p in batch.problems] == [
        ("warning", "grants[0].recipientOrganization[0].url", "www.kyt.org.uk")
    ]
    assert batch.grants  # read all the same


@pytest.mark.parametrize(
    ("changes", "read_as"),
    [
        ({"title": "Grant 360G-test-1", "description": "Grant 360G-test-1"}, (None, None, False)),
        ({"title": "Youth mentoring", "description": "Youth mentoring"},
         ("Youth mentoring", None, False)),
        ({"description": "No description of this grant was published."},
         ("Youth mentoring", None, False)),
        ({"demo": True}, ("Youth mentoring", "Mentoring for young people at risk of exploitation",
                          True)),
        ({"title": "Grant 360G-other"}, ("Grant 360G-other", "Mentoring for young people at "
                                         "risk of exploitation", False)),
    ],
    ids=["no-title", "title-as-description", "no-description", "demo", "another-grants-id"],
)  # fmt: skip
def test_our_exports_fillers_read_as_the_blanks_they_stand_for(
    changes: dict[str, Any], read_as: tuple[Any, ...]
) -> None:
    """What our export writes for a grant held with no title ('Grant <id>') or no
    description (a sentence saying so; before, its title) is read as none, so the held value is kept; our ``demo``
    extension marks made-up grants; a grant names no services (None: the links held stay)."""
    (rec,) = read(grant(**changes)).grants
    assert (rec.title, rec.description, rec.demo) == read_as
    assert rec.service_refs is None


GRANTS_TITLE = "MOPAC grants 2026"


@pytest.mark.parametrize(("suffix", "blank_rows"), [("csv", 1), ("xlsx", 0)])
def test_headings_below_a_title_are_found(tmp_path: Path, suffix: str, blank_rows: int) -> None:
    """A title above the headings (row 1, the headings on row 2 or 3): the headings are
    found below it, as the template's are, a warning names the row taken, and the rows
    keep their numbers (the title was taken for the headings: "no Identifier column")."""
    lines: list[list[Any]] = [
        [GRANTS_TITLE], *[[]] * blank_rows, HEADER, [*ROW, "", KINGSTON, ""],
        ["G-2", "Bad", "lots", "01/06/2021", "GB-CHC-1", "Trust", "GB-GOR-PC390", "MOPAC",
         "", KINGSTON, ""],
    ]  # fmt: skip
    path = tmp_path / f"titled.{suffix}"
    if suffix == "csv":
        path.write_bytes(_csv(lines))
    else:
        workbook = Workbook()
        for line in lines:
            workbook.active.append(line)
        workbook.save(path)
    header = 2 + blank_rows
    from directory.ingest.run import _sniff, read_source

    fmt, _table = _sniff(path.read_bytes(), path.name)
    assert fmt == "360giving"
    for batch in (
        read_360giving_table(path.read_bytes(), FakeContext()),
        read_source(path.read_bytes(), path.name, fmt, FakeContext()),  # type: ignore[arg-type]
    ):
        assert [(p.row, p.column) for p in batch.errors] == [(header + 2, "Amount Awarded")]
        (note,) = [p for p in batch.problems if p.severity == "warning"]
        assert note.row == header
        assert f"row {header}" in note.message and GRANTS_TITLE in note.message
        assert [g.ref for g in batch.grants] == ["G-1"]


TEMPLATE_FILES = Path(__file__).parents[2] / "data" / "standards" / "360giving" / "templates"


def _template_workbook(name: str, rows: dict[str, list[dict[str, Any]]]) -> Workbook:
    """The standard's spreadsheet template ``name``, with ``rows`` (heading → value) added
    to its sheets; sheets are named by the part their headings after "Identifier" are of
    ("Planned Dates" for "Planned Dates:Start Date" …), since the templates name them differently
    ("Planned Dates", "plannedDates")."""
    from openpyxl import load_workbook

    workbook = load_workbook(TEMPLATE_FILES / name)
    for part, entries in rows.items():
        (sheet,) = [
            ws for ws in workbook.worksheets
            if (part == "grants" and ws.title == "grants")
            or (part != "grants" and len(ws[1]) > 1 and all(
                c.value.startswith(f"{part}:") and c.value.count(":") == 1 for c in ws[1][1:]
            ))
        ]  # fmt: skip
        headings = [c.value for c in sheet[1]]
        for entry in entries:
            assert set(entry) <= set(headings), set(entry) - set(headings)
            sheet.append([entry.get(h) for h in headings])
    return workbook


PARTS_FILES = [
    "360-giving-schema-titles-with-meta-tab-2023.xlsx",
    "360-giving-schema-titles-with-meta-tab.xlsx",
]


def _parts_workbook(name: str, **more: list[dict[str, Any]]) -> Workbook:
    """Two grants in the template, their beneficiary locations, planned dates, recipient
    and funder details on the sheets of their own."""
    grant = {"Currency": "GBP", "Award Date": "2026-04-01", "Funding Org:Identifier": None}
    rows: dict[str, list[dict[str, Any]]] = {
        "grants": [
            {**grant, "Identifier": "G-1", "Title": "Mentoring", "Amount Awarded": 45000,
             "Recipient Org:Identifier": "GB-CHC-1", "Funding Org:Identifier": "GB-GOR-PC390",
             "Funding Org:Name": MOPAC_NAME},
            {**grant, "Identifier": "G-2", "Title": "Outreach", "Amount Awarded": 9000,
             "Recipient Org:Identifier": "GB-CHC-2", "Recipient Org:Name": "Youth Club"},
        ],
        "Beneficiary Location": [
            {"Identifier": "G-1", "Beneficiary Location:Geographic Code": KINGSTON,
             "Beneficiary Location:Geographic Code Type": "LAD"},
            {"Identifier": "G-1", "Beneficiary Location:Geographic Code": TOWER_HAMLETS,
             "Beneficiary Location:Geographic Code Type": "LAD"},
            {"Identifier": "G-2", "Beneficiary Location:Name": "Kingston upon Thames"},
        ],
        "Planned Dates": [
            {"Identifier": "G-1", "Planned Dates:Start Date": "2026-04-01",
             "Planned Dates:End Date": "2029-03-31", "Planned Dates:Duration (months)": 36},
        ],
        "Recipient Org": [
            {"Identifier": "G-1", "Recipient Org:Identifier": "GB-CHC-1",
             "Recipient Org:Name": "Kingston Youth Trust", "Recipient Org:Charity Number": 1},
        ],
        "Funding Org": [
            {"Identifier": "G-2", "Funding Org:Identifier": "GB-GOR-PC390",
             "Funding Org:Name": MOPAC_NAME},
        ],
    }  # fmt: skip
    for part, entries in more.items():
        rows[part.replace("_", " ")] += entries
    return _template_workbook(name, rows)


MOPAC_NAME = "Mayor's Office for Policing and Crime"


@pytest.mark.parametrize("name", PARTS_FILES)
def test_the_templates_part_sheets_are_read_by_identifier(tmp_path: Path, name: str) -> None:
    """The standard's template puts a grant's beneficiary locations, planned dates,
    recipient and funder on sheets of their own, a row each keyed by the grant's
    Identifier: they are the grant's (they were ignored, and every grant had "no
    beneficiary location")."""
    path = tmp_path / "grants.xlsx"
    _parts_workbook(name).save(path)
    batch = read_360giving_table(path, FakeContext())
    assert batch.errors == []
    assert not [p for p in batch.problems if "London area" in p.message]
    first, second = batch.grants
    assert first.areas == [KINGSTON, TOWER_HAMLETS] and second.areas == [KINGSTON]
    assert (first.start, first.end, first.duration_months) == (
        date(2026, 4, 1), date(2029, 3, 31), 36,
    )  # fmt: skip
    assert second.funder_ref == "GB-GOR-PC390"
    orgs = {o.ref: o for o in batch.organisations}
    assert (orgs["GB-CHC-1"].name, orgs["GB-CHC-1"].charity_number) == (
        "Kingston Youth Trust", "1",
    )  # fmt: skip
    assert orgs["GB-GOR-PC390"].name == MOPAC_NAME


def test_a_part_sheets_row_for_a_grant_not_on_the_grants_sheet_is_an_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grants.xlsx"
    stray = {"Identifier": "G-9", "Beneficiary Location:Geographic Code": KINGSTON}
    nameless = {"Identifier": None, "Planned Dates:Start Date": "2026-04-01"}
    _parts_workbook(PARTS_FILES[0], Beneficiary_Location=[stray], Planned_Dates=[nameless]).save(
        path
    )
    batch = read_360giving_table(path, FakeContext())
    stray_error, nameless_error = batch.errors
    assert (stray_error.row, stray_error.column, stray_error.value) == (
        5, "Identifier (sheet 'Beneficiary Location')", "G-9",
    )  # fmt: skip
    assert "Row 5 of sheet 'Beneficiary Location' is for grant G-9" in stray_error.message
    assert "not on sheet 'grants'" in stray_error.message
    assert (nameless_error.row, nameless_error.column) == (3, "Identifier (sheet 'Planned Dates')")
    assert "has no Identifier" in nameless_error.message


def test_a_part_sheets_cell_problem_names_its_sheet_and_row(tmp_path: Path) -> None:
    path = tmp_path / "grants.xlsx"
    bad = {"Identifier": "G-2", "Planned Dates:Start Date": "13/25/2026"}
    _parts_workbook(PARTS_FILES[0], Planned_Dates=[bad]).save(path)
    (error,) = read_360giving_table(path, FakeContext()).errors
    assert (error.row, error.column, error.value) == (
        3, "Planned Dates:Start Date (sheet 'Planned Dates', row 3)", "13/25/2026",
    )  # fmt: skip


def test_a_part_sheets_cell_the_reader_refuses_names_its_sheet(tmp_path: Path) -> None:
    """A cell of a grant's part sheet the reader refuses (text no page can show) was named
    by its column alone, as if it were on the grants sheet: its sheet too."""
    path = tmp_path / "grants.xlsx"
    bad = {"Identifier": "G-2", "Planned Dates:Start Date": "2026\x7f-04-01"}
    _parts_workbook(PARTS_FILES[0], Planned_Dates=[bad]).save(path)
    (error,) = read_360giving_table(path, FakeContext()).errors
    assert (error.row, error.column) == (3, "Planned Dates:Start Date (sheet 'Planned Dates')")
    assert "control character (code 127)" in error.message


@pytest.mark.parametrize(
    ("dates", "says", "months"),
    [
        ({"startDate": "2024-04-01", "endDate": "2025-03-31", "duration": 36},
         "Grant 360G-test-1: plannedDates[0].duration is 36, but plannedDates[0].startDate and "
         "plannedDates[0].endDate (2024-04-01 to 2025-03-31) are 12 months apart", 12),
        ({"startDate": "2024-04-01", "endDate": "2025-03-31", "duration": 0},
         "Grant 360G-test-1: plannedDates[0].duration: 0 is not a number of months", 12),
        ({"duration": 0}, "plannedDates[0].duration: 0 is not a number of months", None),
    ],
    ids=["contradicted", "zero", "zero-alone"],
)  # fmt: skip
def test_a_planned_duration_the_dates_contradict_or_of_no_months_is_not_taken(
    dates: dict[str, Any], says: str, months: int | None
) -> None:
    """The template's rule: the duration is what counts a grant as three years or more, so
    36 months given for a year's dates (or 0) is not taken. A warning, not an error: a
    publisher's file is not the officer's to correct (50 of the GrantNav fixture's 841
    grants give the funded months beside dates that take in extensions), so the grant's
    length is the dates'."""
    batch = read(grant(plannedDates=[dates]))
    assert batch.errors == []
    (warning,) = [p for p in batch.problems if p.column and p.column.endswith("duration")]
    assert (warning.severity, warning.row, warning.column, warning.value) == (
        "warning", 1, "grants[0].plannedDates[0].duration", str(dates["duration"]),
    )  # fmt: skip
    assert says in warning.message
    (record,) = batch.grants
    assert record.duration_months == months
    within = read(grant(plannedDates=[{**dates, "duration": 13}] if "endDate" in dates else []))
    assert not [p for p in within.problems if "months" in p.message]
    assert within.grants[0].duration_months == (13 if months else None)


def test_a_planned_duration_in_a_spreadsheet_names_its_columns() -> None:
    headings = [*HEADER[:8], "Planned Dates:Start Date", "Planned Dates:End Date",
                "Planned Dates:Duration (months)"]  # fmt: skip
    data = _csv([headings, [*ROW, "01/04/2024", "31/03/2025", "36"]])
    batch = read_360giving_table(data, FakeContext())
    (warning,) = [p for p in batch.problems if "months apart" in p.message]
    assert (warning.row, warning.column, warning.value) == (
        2, "Planned Dates:Duration (months)", "36",
    )  # fmt: skip
    assert warning.message.startswith(
        "Grant G-1: Planned Dates:Duration (months) is 36, but Planned Dates:Start Date and "
        "Planned Dates:End Date (2024-04-01 to 2025-03-31) are 12 months apart"
    )
    assert batch.grants[0].duration_months == 12


def test_the_real_files_funded_months_beside_extended_dates_are_warnings(batch: Batch) -> None:
    """Lloyds Bank Foundation gives 36 months beside end dates that take in extensions."""
    warned = [p for p in batch.problems if p.column and p.column.endswith(".duration")]
    assert len(warned) == 50 and {p.severity for p in warned} == {"warning"}
    assert any(
        p.message.startswith("Grant 360G-LBFEW-110340: plannedDates[0].duration is 36")
        for p in warned
    )


def test_text_longer_than_the_directory_keeps_names_the_grants_field() -> None:
    """Found by the import, it named the database's field ("name") and no grant."""
    recipient = {"id": "GB-CHC-1111111", "name": "K" * 301}
    error = only_error(read(grant(), grant(id="360G-test-2", recipientOrganization=[recipient])))
    assert (error.row, error.column) == (2, "grants[1].recipientOrganization[0].name")
    assert error.message == (
        "recipientOrganization[0].name is 301 characters long; at most 300 are kept."
    )
    error = only_error(read(grant(id="G" * 161)))
    assert (error.row, error.column) == (1, "grants[0].id")
    assert error.message.startswith("id is 161 characters long; at most 160")


def test_text_longer_than_the_directory_keeps_names_the_spreadsheets_column() -> None:
    data = _csv([HEADER[:8], [*ROW[:5], "T" * 301, *ROW[6:]]])
    error = only_error(read_360giving_table(data, FakeContext()))
    assert (error.row, error.column) == (2, "Recipient Org:Name")
    assert error.message == "Recipient Org:Name is 301 characters long; at most 300 are kept."
