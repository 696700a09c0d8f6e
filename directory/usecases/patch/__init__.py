"""What is in my patch: the services that serve a place, why each is there, the money
going into it and who to talk to; and partners for an organisation.

The directory is small (thousands of services) and read-heavy, so it is held in memory as a
``DirectoryIndex`` built once per data version and day (grant statuses depend on the date):
coverage by area code, delivery sites by 250 m grid cell, organisations' profiles, grants by
beneficiary area, contacts by area, and each service's answer already rendered. A patch
request is then one postcode lookup in the database and dictionary work. No Flask here.

``index`` builds and keeps that index, ``places`` says where a patch is (postcode, point or
area), ``answer`` is the patch itself and the caseload lookup, ``partners`` ranks partners,
``why`` says why a service is, or is not, in a patch.
The names callers use are here.
"""

from directory.usecases.patch.answer import (
    LOOKUP_PER_POSTCODE,
    LOOKUP_PER_POSTCODE_MAX,
    PatchFilters,
    for_representations,
    funding_summary,
    opportunities_change_today,
    patch,
    patch_lookup,
    warm_wards,
)
from directory.usecases.patch.index import (
    DEFAULT_RADIUS_M,
    MAX_RADIUS_M,
    RELATIONS,
    DirectoryCache,
    DirectoryIndex,
    OrganisationProfile,
)
from directory.usecases.patch.partners import partners, subject_for_place
from directory.usecases.patch.places import Place, place_for_area, place_for_areas, resolve_place
from directory.usecases.patch.why import CHECKS as WHY_CHECKS
from directory.usecases.patch.why import why

__all__ = [
    "DEFAULT_RADIUS_M",
    "LOOKUP_PER_POSTCODE",
    "LOOKUP_PER_POSTCODE_MAX",
    "MAX_RADIUS_M",
    "RELATIONS",
    "WHY_CHECKS",
    "DirectoryCache",
    "DirectoryIndex",
    "OrganisationProfile",
    "PatchFilters",
    "Place",
    "for_representations",
    "funding_summary",
    "opportunities_change_today",
    "partners",
    "patch",
    "patch_lookup",
    "place_for_area",
    "place_for_areas",
    "resolve_place",
    "subject_for_place",
    "warm_wards",
    "why",
]
