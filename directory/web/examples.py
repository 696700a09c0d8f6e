"""Examples of the main answers for the OpenAPI document, by operationId."""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, Any] = {}
