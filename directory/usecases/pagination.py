"""What every list shares: the Open Referral page envelope, and its text search checked."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from directory.errors import InvalidInputError
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


def searched_for(value: str | None, param: str) -> str | None:
    """A text search (``param``) as its words, one space apart; None when not given, and
    given with none (blank, new lines) a 422 naming it, not every row or none (the
    services' ``q``, the areas' ``q`` and every Open Referral list's ``search``)."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        message = f"{param} must contain something to search for."
        raise InvalidInputError(message, errors={param: [message]})
    return text


#: a date-time whose offset's "+" came as a space: in a URL's query a "+" is a space, and
#: "…T09:00:00+01:00" typed into one arrives as "…T09:00:00 01:00"
_PLUS_AS_SPACE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?) (\d{2}(?::?\d{2})?)$"
)


def moment_text(text: str) -> str:
    """A query's date-time as it was meant: spaces around it off, and an offset's "+" that
    arrived as a space put back (the space can mean nothing else there)."""
    return _PLUS_AS_SPACE.sub(r"\1+\2", text.strip())
