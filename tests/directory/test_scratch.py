"""The import's keyed scratch store (directory/store/repositories/scratch.py): values by key
in a private temporary SQLite database, read back as copies, in the order added."""

from __future__ import annotations

import pytest

from directory.ingest.records import GrantRecord
from directory.store.repositories import scratch
from directory.store.repositories.scratch import Ledger


def _grant(n: int) -> GrantRecord:
    return GrantRecord(ref=f"G-{n}", funder_ref="GB-GOR-PC390", recipient_ref=f"org:{n}",
                       service_refs=[f"S-{n}"], areas=["E09000021"])  # fmt: skip


def test_a_ledger_keeps_values_by_key_in_the_order_added():
    ledger: Ledger[GrantRecord] = Ledger()
    for n in (3, 1, 2):
        ledger.add(f"g-{n}", _grant(n))
    assert len(ledger) == 3
    assert "g-1" in ledger and "g-9" not in ledger
    assert ledger.get("g-2") == _grant(2)
    assert ledger.get("g-9") is None
    assert [g.ref for g in ledger.values()] == ["G-3", "G-1", "G-2"]


def test_a_value_read_back_is_a_copy_until_it_is_put_back():
    ledger: Ledger[GrantRecord] = Ledger()
    ledger.add("g", _grant(1))
    seen = ledger.get("g")
    assert seen is not None
    seen.service_refs.append("S-2")
    assert ledger.get("g") == _grant(1)  # not changed by changing the copy
    ledger.put("g", seen)
    assert ledger.get("g") == seen and len(ledger) == 1
    assert [g.service_refs for g in ledger.values()] == [["S-1", "S-2"]]  # in its place


def test_a_key_is_added_once_and_only_an_added_key_is_put():
    ledger: Ledger[int] = Ledger()
    ledger.add("a", 1)
    with pytest.raises(KeyError):
        ledger.add("a", 2)
    with pytest.raises(KeyError):
        ledger.put("b", 2)
    assert ledger.get("a") == 1 and len(ledger) == 1


def test_keys_are_exact_text():
    """The callers fold case themselves (a grant's loose ref): the ledger does not."""
    ledger: Ledger[int] = Ledger()
    ledger.add("G-1", 1)
    ledger.add("g-1", 2)
    assert (ledger.get("G-1"), ledger.get("g-1"), ledger.get("G-1 ")) == (1, 2, None)


def test_a_ledger_bigger_than_its_cache_spills_to_disk_and_reads_back_whole(monkeypatch):
    """Past its page cache the scratch database is written to its temporary file; what is
    read back is still every value, in order, and a lookup of any of them works."""
    monkeypatch.setattr(scratch, "CACHE_KIB", 64)
    monkeypatch.setattr(scratch, "FETCH", 7)
    ledger: Ledger[GrantRecord] = Ledger()
    count = 5_000
    for n in range(count):
        ledger.add(f"g-{n}", _grant(n))
    pages = ledger._db.execute("PRAGMA page_count").fetchone()[0]
    size = ledger._db.execute("PRAGMA page_size").fetchone()[0]
    assert pages * size > 4 * 64 * 1024  # several times what the cache may hold
    assert [g.ref for g in ledger.values()] == [f"G-{n}" for n in range(count)]
    assert ledger.get("g-4321") == _grant(4321)
    ledger.close()
    with pytest.raises(Exception, match="closed"):
        ledger.get("g-1")
