"""Fetch London's data from the official publishers by their documented machine interfaces.

A pure library (no Flask, SQLAlchemy or ``directory``; pandas/pyogrio only inside
functions). Each source in :data:`SOURCES` has ``discover(client) -> Found`` (metadata
calls only: what is the newest release?) and ``fetch(client, found, workdir) ->
list[FetchedFile]`` (download, cut to London, validate, write the files the loaders
read). See ``docs/DATA-SOURCES.md`` for what is known of each publisher's interface.

Example
-------
>>> from geodata.fetch import SOURCES, Client
>>> with Client() as client:                                        # doctest: +SKIP
...     found = SOURCES["codepoint"].discover(client)
...     files = SOURCES["codepoint"].fetch(client, found, workdir)
"""

from __future__ import annotations

from geodata.errors import FetchError
from geodata.fetch import boroughs, codepoint, crime, mopac_grants, nspl, population, wards
from geodata.fetch.base import FetchedFile, Found, Source
from geodata.fetch.http import Client, Downloaded

__all__ = ["Client", "Downloaded", "Found", "FetchedFile", "FetchError", "Source", "SOURCES"]

#: Every source by name, in the order a refresh runs them.
SOURCES: dict[str, Source] = {
    "boroughs": boroughs.SOURCE,
    "wards": wards.SOURCE,
    "codepoint": codepoint.SOURCE,
    "nspl": nspl.SOURCE,
    "crime": crime.SOURCE,
    "population": population.SOURCE,
    "mopac-grants": mopac_grants.SOURCE,
}
