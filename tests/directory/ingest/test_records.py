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
