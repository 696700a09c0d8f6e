"""HTTP resources, one folder each (routes.py + schemas.py), registered in this order."""

from __future__ import annotations

from directory.web.resources.areas.routes import blp as areas
from directory.web.resources.changes.routes import blp as changes
from directory.web.resources.contacts.routes import blp as contacts
from directory.web.resources.features.routes import blp as features
from directory.web.resources.feedback.routes import blp as feedback
from directory.web.resources.funding.routes import blp as funding
from directory.web.resources.grants.routes import blp as grants
from directory.web.resources.hsds.routes import blp as hsds
from directory.web.resources.imports.routes import blp as imports
from directory.web.resources.locate.routes import blp as locate
from directory.web.resources.meta.routes import blp as meta
from directory.web.resources.opportunities.routes import blp as opportunities
from directory.web.resources.organisations.routes import blp as organisations
from directory.web.resources.outcomes.routes import blp as outcomes
from directory.web.resources.partners.routes import blp as partners
from directory.web.resources.patch.routes import blp as patch
from directory.web.resources.postcodes.routes import blp as postcodes
from directory.web.resources.practice.routes import blp as practice
from directory.web.resources.problems.routes import blp as problems
from directory.web.resources.programmes.routes import blp as programmes
from directory.web.resources.services.routes import blp as services
from directory.web.resources.themes.routes import blp as themes

BLUEPRINTS = [
    meta, postcodes, locate, areas, patch, services, organisations, grants, partners, themes,
    changes, imports, funding, programmes, outcomes, contacts, opportunities, features,
    hsds, feedback, practice, problems,
]  # fmt: skip
