"""Loops of "paid through" (a regrant's parent grant): finding them and saying them.

A grant is paid through at most one other, so following Paid through from any grant either
ends (at a grant paid directly, or one the directory does not hold) or comes back to a grant
already passed: a loop, such as G-A paid through G-B and G-B paid through G-A. A loop has no
grant the money first came from, so an import that would leave one is refused
(:func:`loops` finds them, :func:`loop_message` says them). For a loop already in the
database (written before imports checked), :func:`loop_heads` picks the grant of each loop
the funding figures count, the one added to the directory first, so the loop's money is
counted once rather than dropped.

No Flask, no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping


def loops(
    parent_of: Mapping[str, str | None], starts: Iterable[str] | None = None
) -> list[list[str]]:
    """Each loop reached from ``starts`` (default: every grant of ``parent_of``) once, its
    grants in the order Paid through leads, from the first of them the walk reached.
    ``parent_of`` maps a grant's ref to its parent's (absent or None: paid directly). Each
    grant is passed once, however long the chains."""
    found: list[list[str]] = []
    done: set[str] = set()
    for start in parent_of if starts is None else starts:
        path: dict[str, int] = {}  # this walk's grants, in order
        ref: str | None = start
        while ref is not None and ref not in done and ref not in path:
            path[ref] = len(path)
            ref = parent_of.get(ref)
        if ref is not None and ref in path:
            found.append(list(path)[path[ref] :])
        done.update(path)
    return found


def loop_heads(parent_of: Mapping[str, str | None], order: Callable[[str], object]) -> set[str]:
    """The grant of each loop of ``parent_of`` that comes first by ``order`` (the funding
    figures count it as paid directly; the loop's others are its regrants)."""
    return {min(loop, key=order) for loop in loops(parent_of)}


def loop_message(loop: list[str], where: Mapping[str, str]) -> str:
    """The error for ``loop`` in plain words: its grants (each with ``where`` it is: "row 3",
    "already in the directory") and who is paid through whom."""
    named = [f"{ref} ({where[ref]})" for ref in loop]
    links = [f"{ref} is paid through {loop[(i + 1) % len(loop)]}" for i, ref in enumerate(loop)]
    together = "each other" if len(loop) == 2 else "one another"
    return (
        f"Grants {_listed(named)} are paid through {together} in a loop: {_listed(links)}. "
        "A grant's money has to start at a grant that is not paid through another, so at "
        "least one of these must not be: correct its Paid through."
    )


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
