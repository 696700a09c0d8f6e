"""London's geography as a pure library.

Areas (region, Met Police BCUs, boroughs, wards) by code, postcodes, a point-in-area
index with ``covers`` semantics, CRS transforms and data loaders. Imports shapely, pyproj
and numpy; pandas/pyogrio only inside :mod:`geodata.loaders` functions. Never Flask,
SQLAlchemy or the ``directory`` application.
"""

from geodata.crs import (
    LONDON_BBOX_BNG,
    geometry_to_bng,
    geometry_to_wgs84,
    is_valid_bng,
    is_valid_lonlat,
    to_bng,
    to_wgs84,
)
from geodata.download import download_sources
from geodata.errors import DataFileError, GeodataError, InvalidPostcodeError
from geodata.index import AreaIndex
from geodata.loaders import (
    AreaRecord,
    BcuMembership,
    GeographyBundle,
    PostcodeRecord,
    read_bcu_membership,
    read_bundle,
    read_postcodes,
    read_terminated_postcodes,
)
from geodata.names import NameMatcher, london_name_matcher, normalise_name
from geodata.neighbours import neighbours
from geodata.postcodes import Postcode, display_form, parse_outcode, parse_postcode
from geodata.sources import Manifest, SourceFile, load_manifest

__all__ = [
    "AreaIndex",
    "AreaRecord",
    "BcuMembership",
    "DataFileError",
    "GeodataError",
    "GeographyBundle",
    "InvalidPostcodeError",
    "LONDON_BBOX_BNG",
    "Manifest",
    "NameMatcher",
    "Postcode",
    "PostcodeRecord",
    "SourceFile",
    "display_form",
    "download_sources",
    "geometry_to_bng",
    "geometry_to_wgs84",
    "is_valid_bng",
    "is_valid_lonlat",
    "load_manifest",
    "london_name_matcher",
    "neighbours",
    "normalise_name",
    "parse_outcode",
    "parse_postcode",
    "read_bcu_membership",
    "read_bundle",
    "read_postcodes",
    "read_terminated_postcodes",
    "to_bng",
    "to_wgs84",
]
