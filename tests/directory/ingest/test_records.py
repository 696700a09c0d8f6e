"""The records a reader gives the import: a spool of services set aside as they are read."""

from __future__ import annotations

import pytest

from directory.ingest import records
from directory.ingest.records import LocationRecord, ServiceRecord, Spool


def _service(n: int) -> ServiceRecord:
    return ServiceRecord(
        ref=f"S-{n}", name=f"Service {n} £ café", organisation_ref="org:x",
        themes=["vawg"], coverage=["E09000021"],
        locations=[LocationRecord(ref=f"S-{n}#site", postcode="KT11EU", lat=51.4, lon=-0.3)],
    )  # fmt: skip


def test_a_spool_gives_back_its_services_in_order_from_disk_as_often_as_asked(monkeypatch):
    monkeypatch.setattr(records, "SPOOL_CHUNK", 3)
    monkeypatch.setattr(records, "SPOOL_IN_MEMORY", 200)  # a few chunks, then a file
    services = [_service(n) for n in range(10)]
    spool = Spool()
    for service in services:
        spool.append(service)
    assert len(spool) == 10
    assert list(spool) == services
    assert spool._file._rolled  # beyond SPOOL_IN_MEMORY: in a temporary file
    assert list(spool) == services  # again
    # two readings at once each keep their place
    first, second = iter(spool), iter(spool)
    pairs = [(next(first), next(second)) for _ in range(10)]
    assert [a for a, _ in pairs] == [b for _, b in pairs] == services
    # what is read back is a copy
    again = next(iter(spool))
    again.locations[0].lat = None
    assert next(iter(spool)).locations[0].lat == 51.4
    spool.close()
    assert spool._file.closed


def test_an_empty_spool_gives_nothing():
    spool = Spool()
    assert len(spool) == 0 and list(spool) == []


@pytest.mark.parametrize("count", [1, 999, 1000, 1001])
def test_a_spool_keeps_the_last_part_chunk_too(count):
    spool = Spool()
    for n in range(count):
        spool.append(_service(n))
    assert [s.ref for s in spool] == [f"S-{n}" for n in range(count)]


def test_records_pickle_and_copy_as_their_fields_in_order():
    """The spools and the import's ledger pickle every record by its fields' values
    (``pickled_by_fields``): what comes back equals what went in, every field set, and a
    copy shares nothing mutable with its original."""
    import copy
    import dataclasses
    import pickle
    from datetime import date
    from decimal import Decimal

    from directory.ingest.records import GrantRecord, OrganisationRecord
    from directory.ingest.template import _GrantSeen

    grant = GrantRecord(
        ref="G-1", funder_ref="GB-GOR-PC390", recipient_ref="org:x", title="Title",
        description="About", programme="lcpf", service_refs=["S-1", "S-2"],
        amount=Decimal("1200.50"), currency="GBP", awarded=date(2024, 3, 1),
        start=date(2024, 4, 1), end=date(2026, 3, 31), duration_months=24,
        financial_year="2024/25", areas=["E09000021"], regrant_type="FRG010",
        parent_ref="G-0", source_url="https://example.org/g", demo=True,
    )  # fmt: skip
    seen = _GrantSeen(grant, 7, frozenset({"amount"}), ["E09000021"], "Kingston SNB", 9)
    organisation = OrganisationRecord(ref="org:x", name="X", type="voluntary")
    for record in (grant, seen):  # every field set (a field left out would come back None)
        assert all(getattr(record, f.name) is not None for f in dataclasses.fields(record))
    for record in (grant, seen, organisation, _service(3)):
        back = pickle.loads(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
        assert type(back) is type(record) and back == record
        copied = copy.deepcopy(record)
        assert copied == record
    copied = copy.deepcopy(seen)
    copied.record.service_refs.append("S-3")
    assert grant.service_refs == ["S-1", "S-2"]
