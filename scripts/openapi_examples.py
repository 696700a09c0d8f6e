"""Write the OpenAPI document's response examples from real answers of the demo directory.

Each example is the answer to one request (``directory.web.examples.REQUESTS``) with every
list cut to its first item, so the document shows every member without a page of data.
Run it after `make demo` (it reads the configured database), then `make openapi`:

    .venv/bin/python scripts/openapi_examples.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from directory import create_app  # noqa: E402
from directory.web import examples  # noqa: E402


def first_items(value: Any) -> Any:
    """The answer with every list cut to its first item (those of ``examples.WHOLE`` kept
    whole, their items cut)."""
    if isinstance(value, dict):
        return {
            key: [first_items(item) for item in member]
            if key in examples.WHOLE and isinstance(member, list)
            else first_items(member)
            for key, member in value.items()
        }
    if isinstance(value, list):
        return [first_items(item) for item in value[:1]]
    return value


def main() -> None:
    client = create_app().test_client()
    examples.FOLDER.mkdir(exist_ok=True)
    for operation_id, url in examples.REQUESTS.items():
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.get_data(as_text=True)}")
        path = examples.FOLDER / f"{operation_id}.json"
        text = json.dumps(first_items(response.get_json()), indent=1, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
        print(f"{path.relative_to(REPO_ROOT)}: {url}")


if __name__ == "__main__":
    main()
