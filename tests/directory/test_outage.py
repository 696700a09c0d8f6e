"""A PostgreSQL outage under load: 503 problems with Retry-After, never a 500, and recovery.

``directory serve`` (gunicorn, two sync workers, production error handlers) on a copy of
the demo directory, hammered by four keep-alive clients over the hot routes (postcode,
patch, area, services, /ready), while the test stops the throwaway PostgreSQL at once
(``pg_ctl stop -m immediate``: every connection dropped, as a crash or a failover does),
starts it again, then restarts it the polite way (``-m fast``). Every connection a worker
holds, pooled or kept for reads, dies under it: each must turn into a 503
``database-unavailable`` problem, be replaced, and the workers answer 200s again within
seconds of the database coming back.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import demo_copy
from tests.postgres import PostgresCluster
from tests.servers import Answer, Load, serve, settings_env, settled

pytestmark = pytest.mark.postgres

PROBLEM = "application/problem+json"
RECOVERY_S = 5.0


def _paths(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        postcodes = (
            connection.execute(
                text("SELECT display FROM postcode WHERE status = 'live' ORDER BY canonical")
            )
            .scalars()
            .all()
        )
    engine.dispose()
    chosen = postcodes[:: max(1, len(postcodes) // 150)]
    paths = []
    for i, postcode in enumerate(chosen):
        paths.append(f"/api/v1/postcodes/{quote(postcode)}")
        paths.append(f"/api/v1/patch?postcode={quote(postcode)}&per_page=5")
        if i % 10 == 0:
            paths += ["/ready", "/api/v1/areas/E09000022", "/api/v1/services?per_page=5"]
    return paths


def _route(path: str) -> str:
    return "ready" if path == "/ready" else path.split("?")[0].split("/")[3]


def _describe(answers: list[Answer]) -> str:
    return str(
        Counter((a.status, a.code, a.path.split("?")[0][:24]) for a in answers).most_common(8)
    )


def test_postgresql_stopped_and_restarted_under_load_gives_503s_never_500s(
    postgres: PostgresCluster, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings = demo_copy(request, "postgres", tmp_path)
    paths = _paths(settings.database_url)
    with (
        serve(settings_env(settings), tmp_path / "serve.log", workers=2) as base,
        Load(base, paths, clients=4) as load,
    ):
        time.sleep(1.0)
        warm = time.monotonic()
        settled(load, warm - 1.0, quiet=1.5)  # every route answered (the index built)

        down = time.monotonic()
        postgres.halt("immediate")
        time.sleep(2.0)
        during = load.since(down)
        postgres.resume()
        up = time.monotonic()
        first_recovery = settled(load, up) - up

        restart = time.monotonic()
        postgres.halt("fast")
        postgres.resume()
        back = time.monotonic()
        second_recovery = settled(load, back) - back
        answers = list(load.answers)

    # nothing but 200s and 503 problems, before, during and after
    wrong = [a for a in answers if a.status not in (200, 503)]
    assert not wrong, _describe(wrong)
    unavailable = [a for a in answers if a.status == 503]
    for answer in unavailable:
        assert answer.mimetype == PROBLEM, answer
        assert answer.code == "database-unavailable", answer
        assert answer.retry_after == "30", answer
    # the outage was seen, by the hot routes and /ready alike
    seen = {_route(a.path) for a in during if a.status == 503}
    assert {"postcodes", "patch", "ready"} <= seen, _describe(during)
    # (an answer a worker holds in memory, an area or a patch's services, may still be a 200)
    assert any(a.status == 503 for a in answers if restart <= a.at), "the restart was seen"
    assert first_recovery < RECOVERY_S, first_recovery
    assert second_recovery < RECOVERY_S, second_recovery
    assert len(answers) > 500, len(answers)
