"""Time the directory's lists in name order on an existing database, in this process.

Lists of services and organisations are ordered by name, case aside (``ORDER BY
lower(name), name, id``; ``directory.store.repositories.by_name``), read by the expression
indexes of migration 0017. This times, with the Flask test client (the whole request), the
first page of the services, a page far in (page 500), a filtered page by name, the first
page of the Open Referral services and of the organisations, and searches of the
organisations' and grants' names (``q``: the loose words of migration 0019): the best of
``--rounds`` after one warm-up each, and the first two names of each answer (to see the
order).

Usage::

    .venv/bin/python scripts/bench_lists.py --database-url sqlite:////path/to/db.sqlite3
        [--rounds 5]

(The 100,000-service figures in the README were taken on a directory made by
``scripts/bench_scale.py``'s generated file, imported with ``directory import``.)
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory import create_app  # noqa: E402
from directory.settings import Settings  # noqa: E402

PAGES = [
    "/api/v1/services?per_page=50",
    "/api/v1/services?per_page=50&page=500",
    "/api/v1/services?per_page=50&sort=name&theme=youth-diversion",
    "/api/v1/hsds/services?per_page=50",
    "/api/v1/organisations?per_page=50",
    "/api/v1/organisations?per_page=50&q=youth",
    "/api/v1/organisations?per_page=20&q=haven%20trust&page=30",
    "/api/v1/grants?per_page=50&q=youth",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as instance:
        settings = Settings(instance_dir=Path(instance), database_url=args.database_url)
        app = create_app(settings)
        client = app.test_client()
        print("| page | best ms | status | first names |")
        print("|---|---:|---:|---|")
        for url in PAGES:
            client.get(url)
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
            names = [
                item.get("name") or item.get("title")
                for item in (response.json or {}).get("contents", [])[:2]
            ]
            print(f"| `{url}` | {min(times) * 1000:.1f} | {response.status_code} | {names} |")
        app.extensions["directory"].db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
