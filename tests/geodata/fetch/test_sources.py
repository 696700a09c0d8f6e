"""The sources the refresh knows, in order, each with the fetcher interface. (That
geodata.fetch stays pure and light is checked with the rest of geodata in
tests/geodata/test_purity.py.)"""

from __future__ import annotations


def test_sources_have_the_interface_in_order():
    from geodata.fetch import SOURCES

    assert list(SOURCES) == [
        "boroughs",
        "wards",
        "codepoint",
        "nspl",
        "crime",
        "population",
        "mopac-grants",
    ]
    for name, source in SOURCES.items():
        assert source.name == name
        assert source.description and isinstance(source.keys, tuple) and source.keys
        assert callable(source.discover) and callable(source.fetch)
