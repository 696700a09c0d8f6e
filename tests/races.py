"""Two writes sent with the same ETag, the first held between its If-Match check and its
write while the second is sent: what each is answered. Deterministic, where racing two
requests freely is not (under gunicorn, 55–94 of 200 such races were both 200)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest


def first_held(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str,
    first: Callable[[], int], second: Callable[[], int],
) -> tuple[int, int]:  # fmt: skip
    """The statuses of ``first`` and ``second``: ``first`` held at its first call of
    ``owner.name`` (its write, after its check) until ``second`` has been sent and has
    had half a second, which unheld it needs to check, write and answer."""
    writing, sent = threading.Event(), threading.Event()
    original = getattr(owner, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        if not writing.is_set():
            writing.set()
            sent.wait(5)
            time.sleep(0.5)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    answers: dict[str, int] = {}
    one = threading.Thread(target=lambda: answers.__setitem__("first", first()))
    one.start()
    assert writing.wait(5), "the first write never reached its write"
    two = threading.Thread(target=lambda: answers.__setitem__("second", second()))
    two.start()
    sent.set()
    one.join(15)
    two.join(15)
    monkeypatch.setattr(owner, name, original)
    return answers["first"], answers["second"]
