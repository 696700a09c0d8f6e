"""Examples of the main answers in the OpenAPI document, by operationId: real answers of
the demo directory with every list cut to its first item (but those of WHOLE), kept as data beside this file and
written by ``scripts/openapi_examples.py`` from the requests below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent

#: the request each example answers (on the demo directory)
REQUESTS = {
    "getPostcode": "/api/v1/postcodes/SW2%201RW",
    "getPatch": "/api/v1/patch?postcode=SW2%201RW&per_page=1",
    "getPatchWhy": "/api/v1/patch/why?postcode=SW2%201RW&service=oxygen-kingston-knife-crime",
    "listServices": "/api/v1/services?area=E09000022&per_page=1",
    "listAreas": "/api/v1/areas?type=borough&per_page=1",
    "listGrants": "/api/v1/grants?area=E09000022&per_page=1",
    "getFundingSummary": "/api/v1/funding/summary?by=programme&area=E09000022",
}
#: the lists an example keeps whole: one item of them would not show what the answer is
WHOLE = frozenset({"reasons"})


def _load() -> dict[str, Any]:
    return {
        operation_id: json.loads((FOLDER / f"{operation_id}.json").read_text("utf-8"))
        for operation_id in REQUESTS
        if (FOLDER / f"{operation_id}.json").is_file()
    }


EXAMPLES: dict[str, Any] = _load()
