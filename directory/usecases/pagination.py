"""The Open Referral page envelope, shared by every list."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from directory.usecases.shared import SharedList

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 1000


def envelope(
    contents: Sequence[Any], *, total_items: int, page: int, per_page: int
) -> dict[str, Any]:
    total_pages = max(1, math.ceil(total_items / per_page))
    return {
        "total_items": total_items,
        "total_pages": total_pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": len(contents) == 0,
        # a page already made as its JSON (the patch's) is kept as it is
        "contents": contents if isinstance(contents, SharedList) else list(contents),
    }


def page_of(items: Sequence[Any], page: int, per_page: int) -> tuple[Sequence[Any], int]:
    start = (page - 1) * per_page
    return items[start : start + per_page], len(items)
