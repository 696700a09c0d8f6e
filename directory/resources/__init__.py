"""HTTP resources, one folder each (routes.py + schemas.py), registered in this order."""

from __future__ import annotations

from directory.resources.areas.routes import blp as areas
from directory.resources.locate.routes import blp as locate
from directory.resources.meta.routes import blp as meta
from directory.resources.postcodes.routes import blp as postcodes

BLUEPRINTS = [meta, postcodes, locate, areas]
