"""Big spatial pages (directory/usecases/boxes.py): one URL answered with the in-memory
arrays and by SQL alone, for the tests that check the two agree."""

from __future__ import annotations

from typing import Any

import pytest


def fast_and_sql(app: Any, url: str, *, fast: bool) -> Any:
    """``url`` answered with the arrays and then by SQL alone (no arrays): the answers must
    be equal; with ``fast``, the first must not have asked SQL for the page."""
    from directory.store.repositories.search import SearchQueries

    state = app.extensions["directory"]
    client = app.test_client()
    boxes, state.boxes = state.boxes, None
    try:
        slow = client.get(url)
    finally:
        state.boxes = boxes

    def sql(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError(f"{url} was answered by SQL")

    with pytest.MonkeyPatch.context() as patch:
        if fast:
            patch.setattr(SearchQueries, "search", sql)
            patch.setattr(SearchQueries, "site_features", sql)
        quick = client.get(url)
    assert slow.status_code == quick.status_code == 200, (url, quick.data[:300])
    assert quick.data == slow.data, url
    return quick.json if quick.is_json else quick.data
