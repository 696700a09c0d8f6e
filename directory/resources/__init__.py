"""HTTP resources, one folder each (routes.py + schemas.py), registered in this order."""

from __future__ import annotations

from directory.resources.areas.routes import blp as areas
from directory.resources.changes.routes import blp as changes
from directory.resources.funding.routes import blp as funding
from directory.resources.grants.routes import blp as grants
from directory.resources.imports.routes import blp as imports
from directory.resources.locate.routes import blp as locate
from directory.resources.meta.routes import blp as meta
from directory.resources.organisations.routes import blp as organisations
from directory.resources.outcomes.routes import blp as outcomes
from directory.resources.partners.routes import blp as partners
from directory.resources.patch.routes import blp as patch
from directory.resources.postcodes.routes import blp as postcodes
from directory.resources.programmes.routes import blp as programmes
from directory.resources.services.routes import blp as services
from directory.resources.themes.routes import blp as themes

BLUEPRINTS = [
    meta, postcodes, locate, areas, patch, services, organisations, grants, partners, themes,
    changes, imports, funding, programmes, outcomes,
]  # fmt: skip
