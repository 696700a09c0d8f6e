"""The Open Referral HSDS 3.0 reader: a realistic two-service feed and hostile variants."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date
from typing import Any

import pytest

from directory.ingest.hsds import read_hsds_json
from directory.ingest.records import Batch, LocationRecord
from directory.usecases.hsds_ids import (
    hsds_id,
    location_uuid,
    made_from,
    made_here,
    organization_uuid,
    service_uuid,
)
from tests.conftest import VENDORED
from tests.directory.ingest.fakes import KINGSTON, LONDON, TOWER_HAMLETS, FakeContext

ORG = {
    "id": "3f1c2a5e-0d6b-4b39-9d1e-6a1b2c3d4e5f",
    "name": "Kingston Youth Trust",
    "description": "Youth work in south-west London.",
    "website": "www.kingstonyouthtrust.org.uk",
    "email": "Hello@KingstonYouthTrust.org.uk",
    "legal_status": "Registered charity",
    "organization_identifiers": [
        {"id": "oi-1", "identifier_scheme": "GB-CHC", "identifier": "1123456"},
        {"id": "oi-2", "identifier_type": "Company number", "identifier": "07654321"},
    ],
}


def services() -> list[dict[str, Any]]:
    return [
        {
            "id": "svc-mentoring",
            "name": "Street Mentoring",
            "description": "One-to-one mentoring for young people affected by knife crime.",
            "url": "https://kingstonyouthtrust.org.uk/mentoring",
            "email": "mentoring@kingstonyouthtrust.org.uk",
            "status": "active",
            "eligibility_description": "Young people aged 10 to 25 living in Kingston",
            "minimum_age": 10,
            "maximum_age": 25,
            "assured_date": "2024-03-01",
            "last_modified": "2024-05-01T10:30:45.123Z",
            "organization": copy.deepcopy(ORG),
            "phones": [{"id": "ph-1", "number": '"020 8123 4567"', "type": "voice"}],
            "service_areas": [
                {"id": "sa-1", "name": "Kingston"},
                {
                    "id": "sa-2",
                    "name": "Tower Hamlets outreach",
                    "uri": "http://statistics.data.gov.uk/id/statistical-geography/E09000030",
                },
            ],
            "service_at_locations": [
                {
                    "id": "sal-1",
                    "location": {
                        "id": "loc-1",
                        "location_type": "physical",
                        "name": "Kingston Youth Centre",
                        "latitude": 51.4105,
                        "longitude": -0.3001,
                        "addresses": [
                            {
                                "id": "addr-1",
                                "address_1": "1 Wheatfield Way",
                                "city": "Kingston upon Thames",
                                "state_province": "Greater London",
                                "postal_code": "kt1 1eu",
                                "country": "GB",
                                "address_type": "physical",
                            }
                        ],
                    },
                },
                {
                    "id": "sal-2",
                    "location": {"id": "loc-online", "location_type": "virtual", "url": "x.org"},
                },
            ],
            "attributes": [
                {"id": "a-1", "taxonomy_term": {"id": "t-1", "name": "Knife crime", "code": "KC"}},
                {"id": "a-2", "taxonomy_term": {"id": "t-2", "name": "Gangs"}},
                {"id": "a-3", "taxonomy_term": {"id": "t-3", "name": "Basket weaving"}},
            ],
        },
        {
            "id": "svc-idva",
            "name": "Independent Domestic Violence Advocacy",
            "status": "Temporarily Closed",
            "organization_id": ORG["id"],
            "organization": {"id": ORG["id"], "name": "Kingston Youth Trust (KYT)"},
            "last_modified": "2024-05-01T10:30:45Z",
            "service_areas": [{"id": "sa-3", "name": "London-wide"}],
            "service_at_locations": [
                {
                    "id": "sal-3",
                    "location": {
                        "id": "loc-2",
                        "location_type": "physical",
                        "name": "Advice hub",
                        "addresses": [
                            {
                                "id": "addr-2",
                                "address_1": "2 Unknown Road",
                                "city": "London",
                                "postal_code": "ZZ9 9ZZ",
                                "country": "GB",
                            }
                        ],
                    },
                }
            ],
            "attributes": [
                {
                    "id": "a-4",
                    "taxonomy_term": {"id": "t-4", "name": "DV", "code": "domestic abuse"},
                }
            ],
        },
    ]


def read(document: Any) -> Batch:
    return read_hsds_json(json.dumps(document).encode(), FakeContext())


def only_error(batch: Batch):
    assert len(batch.errors) == 1, batch.problems
    return batch.errors[0]


def test_two_service_sample() -> None:
    batch = read(services())
    assert batch.errors == []
    first, second = batch.services
    assert first.ref == "svc-mentoring" and first.name == "Street Mentoring"
    assert first.organisation_ref == ORG["id"]
    assert first.status == "active"
    assert first.themes == ["violence-knife-crime", "gangs-exploitation"]
    assert first.coverage == [KINGSTON, TOWER_HAMLETS]
    assert first.locations == [
        LocationRecord(
            ref="loc-1",
            name="Kingston Youth Centre",
            address="1 Wheatfield Way, Kingston upon Thames",
            postcode="KT11EU",
            lat=51.4105,
            lon=-0.3001,
        )
    ]
    assert (first.min_age, first.max_age) == (10, 25)
    assert first.eligibility == "Young people aged 10 to 25 living in Kingston"
    assert first.phone == "020 8123 4567"
    assert first.email == "mentoring@kingstonyouthtrust.org.uk"
    assert first.website == "https://kingstonyouthtrust.org.uk/mentoring"
    assert first.last_verified == date(2024, 3, 1)

    assert second.status == "temporarily closed"
    assert second.coverage == [LONDON]
    assert second.themes == ["domestic-abuse"]  # the name does not match; the code does
    # no assured_date: its last_modified (when the record changed) is no check, and the
    # import keeps the date held
    assert (second.last_verified, second.kept) == (None, {"last_verified"})
    (hub,) = second.locations
    assert (hub.address, hub.postcode, hub.lat) == ("2 Unknown Road, London", None, None)

    (org,) = batch.organisations
    assert org.name == "Kingston Youth Trust"
    assert (org.charity_number, org.company_number) == ("1123456", "07654321")
    assert org.type == "voluntary"
    assert org.website == "https://www.kingstonyouthtrust.org.uk"
    assert org.email == "Hello@kingstonyouthtrust.org.uk"

    warnings = [(p.row, p.column) for p in batch.problems]
    assert warnings == [
        (1, "[0].attributes[2].taxonomy_term.name"),
        (2, "[1].service_at_locations[0].location.addresses[0].postal_code"),
    ]
    assert all(p.severity == "warning" for p in batch.problems)


def test_page_envelope_and_single_service() -> None:
    page = {
        "total_items": 2,
        "total_pages": 1,
        "page_number": 1,
        "size": 2,
        "first_page": True,
        "last_page": True,
        "empty": False,
        "contents": services(),
    }
    batch = read(page)
    assert batch.services == read(services()).services
    assert [p.column for p in batch.problems][0] == "contents[0].attributes[2].taxonomy_term.name"
    single = read(services()[0])
    assert [s.ref for s in single.services] == ["svc-mentoring"]
    assert single.problems[0].column == "attributes[2].taxonomy_term.name"


@pytest.mark.parametrize(
    "data",
    [b"{oops", b"", b"42", b'"x"', b"null", b'{"foo": 1}', b'{"contents": 5}', b"[]",
     b"\xff\xfe\x00", b"[" * 50_000 + b"]" * 50_000],
)  # fmt: skip
def test_unreadable_documents_give_one_error(data: bytes) -> None:
    batch = read_hsds_json(data, FakeContext())
    assert len(batch.problems) == 1 and batch.problems[0].severity == "error"
    assert batch.services == []


def _variant(**changes: Any) -> list[dict[str, Any]]:
    items = services()
    for key, value in changes.items():
        if value is None:
            items[0].pop(key, None)
        else:
            items[0][key] = value
    return items


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"id": None}, "[0].id"),
        ({"id": "x" * 10_000}, "[0].id"),
        ({"name": None}, "[0].name"),
        ({"name": ["a list"]}, "[0].name"),
        ({"status": "open"}, "[0].status"),
        ({"minimum_age": "ten"}, "[0].minimum_age"),
        ({"maximum_age": 200}, "[0].maximum_age"),
        ({"minimum_age": 30}, "[0].maximum_age"),
        ({"organization": None}, "[0].organization_id"),
        ({"organization_id": "someone-else"}, "[0].organization_id"),
        ({"organization": "Kingston Youth Trust"}, "[0].organization"),
        ({"service_areas": [{"id": "sa", "name": "Narnia"}]}, "[0].service_areas[0].name"),
        ({"service_areas": [{"id": "sa"}]}, "[0].service_areas[0]"),
        ({"service_areas": "Kingston"}, "[0].service_areas"),
        ({"service_at_locations": [{"id": "s", "location": 7}]},
         "[0].service_at_locations[0].location"),
    ],
)  # fmt: skip
def test_hostile_services_are_errors(changes: dict[str, Any], column: str) -> None:
    batch = read(_variant(**changes))
    error = only_error(batch)
    assert (error.row, error.column) == (1, column)
    assert [s.ref for s in batch.services] == ["svc-idva"]


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"name": "Street\x00Mentoring"}, "[0].name", "NUL character"),
        ({"description": "\udc00"}, "[0].description", "damaged character (\\udc00"),
        ({"service_areas": [{"id": "sa", "name": "King\ud83dston"}]},
         "[0].service_areas[0].name", "damaged character"),
    ],
)  # fmt: skip
def test_text_that_cannot_be_stored_is_an_error_naming_the_service_and_field(
    changes: dict[str, Any], column: str, words: str
) -> None:
    batch = read(_variant(**changes))
    error = only_error(batch)
    assert (error.row, error.column) == (1, column)
    assert words in error.message and "cannot be stored" in error.message
    assert [s.ref for s in batch.services] == ["svc-idva"]


def test_duplicate_ids_and_non_objects() -> None:
    items = services()
    items.append(copy.deepcopy(items[0]))
    items.append("not a service")
    batch = read(items)
    assert [(p.row, p.column) for p in batch.errors] == [(3, "[2].id"), (4, "[3]")]
    assert [s.ref for s in batch.services] == ["svc-mentoring", "svc-idva"]


def test_contact_details_and_dates_are_warnings() -> None:
    batch = read(
        _variant(
            email="not an email",
            url="javascript:alert(1)",
            phones=[{"id": "p", "number": "call us"}],
            assured_date="31/31/2024",
            last_modified=None,
        )
    )
    assert batch.errors == []
    record = batch.services[0]
    assert (record.email, record.website, record.phone, record.last_verified) == (
        None,
        None,
        None,
        None,
    )
    columns = {p.column for p in batch.problems if p.severity == "warning"}
    assert {"[0].email", "[0].url", "[0].phones[0].number", "[0].assured_date"} <= columns


def test_an_assured_date_in_the_future_is_a_warning_and_no_check() -> None:
    """A service assured in 2030 is not verified (it would never be flagged stale): a
    warning naming the field, and the date held is kept."""
    batch = read(_variant(assured_date="2030-01-01"))
    assert batch.errors == [] and batch.services[0].last_verified is None
    (warning,) = [p for p in batch.problems if p.column == "[0].assured_date"]
    assert warning.value == "2030-01-01" and "future" in warning.message


def test_bad_coordinates_are_ignored_and_missing_status_is_active() -> None:
    items = _variant(status=None)
    location = items[0]["service_at_locations"][0]["location"]
    location["latitude"], location["longitude"] = 100, 101  # as in the HSDS example
    batch = read(items)
    assert batch.errors == []
    record = batch.services[0]
    assert record.status == "active"
    assert (record.locations[0].lat, record.locations[0].lon) == (51.4101, -0.3007)  # postcode
    columns = [p.column for p in batch.problems]
    assert "[0].status" in columns and "[0].service_at_locations[0].location.latitude" in columns


def test_organisation_by_id_only() -> None:
    items = services()[1:]
    del items[0]["organization"]
    batch = read(items)
    assert batch.errors == [] and batch.organisations == []
    assert batch.services[0].organisation_ref == ORG["id"]


def test_huge_strings_are_cut_or_refused() -> None:
    """A description is cut (with a warning); a name longer than the directory keeps is an
    error of its field (it was cut to 500, and the import refused that)."""
    batch = read(_variant(description="d" * 1_000_000))
    assert batch.errors == []
    assert len(batch.services[0].description) <= 20_000
    batch = read(_variant(name="n" * 1_000_000))
    assert only_error(batch).column == "[0].name"
    assert all(len(p.value or "") <= 200 for p in batch.problems)


@pytest.mark.parametrize(
    ("changes", "column", "says"),
    [
        ({"name": "n" * 301}, "[0].name", "name is 301 characters long; at most 300"),
        ({"organization": {**ORG, "name": "o" * 301}}, "[0].organization.name",
         "organization.name is 301 characters long; at most 300"),
        ({"id": "i" * 121}, "[0].id", "id is 121 characters long; at most 120"),
        ({"service_at_locations": [{"id": "sal", "location": {"id": "l", "name": "l" * 301}}]},
         "[0].service_at_locations[0].location.name",
         "service_at_locations[0].location.name is 301 characters long; at most 300"),
    ],
    ids=["name", "organisation-name", "id", "location-name"],
)  # fmt: skip
def test_text_longer_than_the_directory_keeps_names_the_services_field(
    changes: dict[str, Any], column: str, says: str
) -> None:
    """Found by the import, it named the database's field ("name") and no service."""
    error = only_error(read(_variant(**changes)))
    assert (error.row, error.column) == (1, column)
    assert error.message.startswith(says)
    assert error.value is not None and len(error.value) == 61


def test_hsds_example_files_do_not_crash() -> None:
    folder = VENDORED / "standards" / "openreferral" / "hsds-3.0" / "examples"
    batch = read_hsds_json((folder / "service_full.json").read_bytes(), FakeContext())
    # its service area is prose about "MyCity": an error, reported and not raised
    assert [p.column for p in batch.errors] == ["service_areas[0].name"]
    page = read_hsds_json((folder / "service_list.json").read_bytes(), FakeContext())
    # the list endpoint's summary services carry no areas or locations: a warning only
    assert page.errors == [] and [s.name for s in page.services] == ["Community Counselling"]
    assert [p.column for p in page.problems] == ["contents[0].service_areas"]


# -- this directory's own export, read back -------------------------------------------------------
class Row:
    def __init__(self, ref: str, service_ref: str | None = None) -> None:
        self.ref, self.service_ref = ref, service_ref


class HoldingContext(FakeContext):
    """A fake context holding a directory: the services S-1 and S-2 (S-1 with the site
    "site-1"), the organisation "org:kyt", and any ``extra_services`` (refs)."""

    def __init__(self, extra_services: list[str] = []) -> None:  # noqa: B006 (not changed)
        super().__init__()
        rows = {
            "service": [Row("S-1"), Row("S-2"), *map(Row, extra_services)],
            "organization": [Row("org:kyt")],
            "location": [Row("site-1", "S-1")],
        }
        self.made = made_from(rows)

    def held_ref(self, kind: str, hsds_id: str) -> str | None:
        try:
            return self.made[kind].get(str(uuid.UUID(hsds_id)))
        except ValueError:
            return None

    def held_site(self, hsds_id: str) -> tuple[str, str] | None:
        try:
            return self.made["location"].get(str(uuid.UUID(hsds_id)))
        except ValueError:
            return None

    def made_here(self, kind: str, item: dict[str, Any], service_id: str) -> bool:
        names = {"Kingston upon Thames": [KINGSTON]}
        return made_here(kind, item, service_id, lambda name: names.get(name, []))


#: where a site of ours is (in Kingston)
HALL = {"latitude": 51.4123, "longitude": -0.3007}


def read_ours(document: Any) -> Batch:
    return read_hsds_json(json.dumps(document).encode(), HoldingContext())


def _ours(service_ref: str, **members: Any) -> dict[str, Any]:
    """A service as this directory exports it (only what is read here)."""
    return {
        "id": service_uuid(service_ref), "name": f"Service {service_ref}", "status": "active",
        "organization": {"id": organization_uuid("org:kyt"), "name": "Kingston Youth Trust"},
        "service_areas": [{"id": "sa", "name": "Kingston"}], **members,
    }  # fmt: skip


def test_ids_this_directory_made_are_read_as_the_refs_they_were_made_from() -> None:
    """Its own export read back, under any source, is the records it holds: an id it made
    from a ref, in any spelling of the UUID, is that ref (a service's, an organisation's,
    a site's); other ids are refs of their own."""
    site = {"id": "sal", "location": {"id": location_uuid("S-1", "site-1"), "name": "Hall", **HALL}}
    shouted = _ours("S-2", id="{" + service_uuid("S-2").upper() + "}")
    shouted["organization"]["id"] = organization_uuid("org:kyt").upper()
    only_by_id = {**_ours("S-3"), "id": "new-one"}
    only_by_id["organization_id"] = only_by_id.pop("organization")["id"]
    batch = read_ours([_ours("S-1", service_at_locations=[site]), shouted, only_by_id])
    assert not batch.errors, batch.errors
    assert [(s.ref, s.organisation_ref) for s in batch.services] == [
        ("S-1", "org:kyt"),
        ("S-2", "org:kyt"),
        ("new-one", "org:kyt"),
    ]
    assert [loc.ref for loc in batch.services[0].locations] == ["site-1"]
    assert [o.ref for o in batch.organisations] == ["org:kyt"]


def test_a_site_of_ours_under_another_service_is_a_site_of_its_own() -> None:
    """Its id read back as it is would be the id of two sites (ours and this one): the
    site's ref is taken instead, which under S-2 makes another id."""
    site = {"id": "sal", "location": {"id": location_uuid("S-1", "site-1"), "name": "Hall", **HALL}}
    batch = read_ours([_ours("S-2", service_at_locations=[site])])
    (location,) = batch.services[0].locations
    assert location.ref == "site-1" and location_uuid("S-2", "site-1") != site["location"]["id"]


def test_a_service_listed_by_its_ref_and_by_our_id_is_listed_twice() -> None:
    twice = [_ours("S-1"), {**_ours("S-1"), "id": "S-1"}]
    (error,) = read_ours(twice).errors
    assert error.message == "Service S-1 appears more than once (first at row 1)."
    (error,) = read_ours(twice[::-1]).errors
    assert f"(its id {service_uuid('S-1')} is this directory's for it)" in error.message


def test_a_record_held_under_the_id_itself_answers_to_it() -> None:
    """A service an import kept under a UUID ref answers to that id, though the id is also
    made from another ref (a copy an import made before its own export was read back):
    the same sync keeps updating the copy, and the other is not taken over."""
    copied = service_uuid("S-1")
    context = HoldingContext(extra_services=[copied])
    (service,) = read_hsds_json(json.dumps([_ours("S-1")]).encode(), context).services
    assert service.ref == copied
    (service,) = read_ours([_ours("S-1")]).services
    assert service.ref == "S-1"


def test_funding_and_contacts_our_export_made_are_not_kept_with_a_service_of_ours() -> None:
    """The export gives each service its grants as funding and its patch contacts as
    contacts, with ids made from them: read back onto the service, copies kept as read
    would outlive the grant or contact. Those of another directory, and those on a
    service not of ours, are kept as read."""
    sid = service_uuid("S-1")
    funding = [
        {"id": hsds_id("funding", "G-1", sid), "service_id": sid,
         "source": "MOPAC; London Crime Prevention Fund; £5,000; grant G-1"},
        {"id": "their-funding", "service_id": sid, "source": "A trust; grant G-1"},
    ]  # fmt: skip
    contacts = [
        {"id": hsds_id("contact", sid, KINGSTON, "Borough SPOC"), "service_id": sid,
         "name": "A. SPOC", "title": "Borough SPOC, Kingston upon Thames"},
        {"id": "their-contact", "service_id": sid, "name": "B. Lead", "title": "Lead, Kingston"},
    ]  # fmt: skip
    ours = _ours("S-1", funding=funding, contacts=contacts)
    (service,) = read_ours([ours]).services
    assert service.hsds_extras is not None
    assert [i["id"] for i in service.hsds_extras["funding"]] == ["their-funding"]
    assert [i["id"] for i in service.hsds_extras["contacts"]] == ["their-contact"]
    theirs = {**ours, "id": "their-service"}
    (service,) = read_ours([theirs]).services
    assert service.hsds_extras is not None
    assert len(service.hsds_extras["funding"]) == len(service.hsds_extras["contacts"]) == 2
