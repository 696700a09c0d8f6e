"""Serve every official publisher's API, locally, with a new London release to refresh from.

    .venv/bin/python scripts/serve_publishers.py [--port 8765] [--from ../shared/data]

Answers as the OS Downloads API, the ONS Open Geography Portal (ArcGIS search, items,
FeatureServer), the London Datastore, Nomis and the 360Giving registry do, under the
mirror layout `/<host>/<path>` (the test suite's publisher fixtures,
tests/geodata/fetch/publishers.py), built from the London data (the shared folder, else the
packaged snapshot). The release is the loaded data changed on purpose: Code-Point Open
2026-08 with two postcodes added, three gone, one moved ward and one moved borough; the ONS
2022 ward names; one more month of Met crime; 2023 population; MOPAC's 360Giving grants.
Then, in another shell:

    directory geodata refresh --dry-run --base-url http://127.0.0.1:8765
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import shared_data_path  # noqa: E402
from tests.geodata.fetch.publishers import build_london_release, publish_london_release  # noqa: E402
from tests.geodata.fetch.server import FixtureServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--from", dest="source", type=Path, default=None)
    args = parser.parse_args()
    source = args.source or shared_data_path()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Building the publishers' new release from {source} …", flush=True)
        release = build_london_release(source, Path(tmp))
        server = FixtureServer(port=args.port).start()
        publish_london_release(server, release)
        print(f"Publishers answering at {server.url}. Try:\n"
              f"  .venv/bin/directory geodata refresh --dry-run --base-url {server.url}\n"
              "Ctrl-C stops.", flush=True)  # fmt: skip
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()


if __name__ == "__main__":
    main()
