"""Functions of the patch's path timed against another checkout's, in one process, turn
and turn about: for a change worth a few per cent of a request, which this machine's drift
from one minute to the next hides from ``bench_patch.py`` (a process per checkout).

One app of this checkout is built on the configured database (a 100,000-service directory
from ``bench_scale.py``'s generated CSV, say) and asked ``--sample`` new postcodes' patches
to warm it. Each ``MODULE:ATTRIBUTE`` given (``directory.usecases.patch.grid:SiteGrid.nearest``,
a function, method or property) is then loaded a second time from the same file of the
``--before`` checkout, and the app answers the same postcodes with the before checkout's
versions and with this one's in turn, ``--chunk`` postcodes at a time (which goes first
alternating), ``--reps`` times over. First it checks that both give the same bytes for
every postcode. Prints each repetition's mean time a patch both ways and the median of
what the change saved.

Usage::

    .venv/bin/python scripts/bench_swap.py --before /path/to/older/checkout \\
        [--database-url URL] [--sample 2000] [--chunk 50] [--reps 8] MODULE:ATTRIBUTE ...

The swapped functions run with the before file's module globals; functions not named run
this checkout's code, and so does one the before checkout has not (a new method). Name together whatever must change together (a class's methods that
share a changed attribute). Standard library only besides the app; exit status 0 when it
ran and both answered alike.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchlib import BenchError, default_data_dir, positive  # noqa: E402
from bench_api import sample_postcodes  # noqa: E402


def _loaded(before: Path, module_name: str) -> Any:
    """``module_name`` as the before checkout has it: its file loaded as a module of its
    own (named apart, registered so that its dataclasses find it)."""
    path = before / (module_name.replace(".", "/") + ".py")
    if not path.is_file():
        raise BenchError(f"{path} not found (is --before a checkout?)")
    name = "before_" + module_name.replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def swaps(before: Path, names: list[str]) -> list[tuple[Any, str, Any, Any]]:
    """For each ``MODULE:ATTRIBUTE``: (the object holding it here, its last name, the
    before checkout's value, this one's). A class's attribute is taken from its
    ``__dict__`` (a property or a method as defined, not bound)."""
    found = []
    for name in names:
        module_name, _, attribute = name.partition(":")
        if not attribute:
            raise BenchError(f"{name!r}: give MODULE:ATTRIBUTE")
        try:
            here, there = importlib.import_module(module_name), _loaded(before, module_name)
        except ImportError as error:
            raise BenchError(f"{name!r}: {error}") from None
        *path, last = attribute.split(".")
        for step in path:
            if not hasattr(here, step) or not hasattr(there, step):
                raise BenchError(f"{name!r}: no {step} in one of the checkouts")
            here, there = getattr(here, step), getattr(there, step)

        def raw(owner: Any, last: str = last) -> Any:
            held = owner.__dict__ if isinstance(owner, type) else vars(owner)
            return held.get(last, _NEW)

        if raw(here) is _NEW:
            raise BenchError(f"{name!r}: not in this checkout")
        found.append((here, last, raw(there), raw(here)))
    return found


#: an attribute the before checkout has not (a new method): this checkout's, both ways
_NEW = object()


def use(swapped: list[tuple[Any, str, Any, Any]], which: str) -> None:
    for owner, last, before, after in swapped:
        setattr(owner, last, after if which == "after" or before is _NEW else before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("functions", nargs="+", metavar="MODULE:ATTRIBUTE")
    parser.add_argument("--before", type=Path, required=True, help="the checkout to compare")
    parser.add_argument("--database-url", help="default: DIRECTORY_DATABASE_URL")
    parser.add_argument("--sample", type=positive(int), default=2000)
    parser.add_argument("--chunk", type=positive(int), default=50)
    parser.add_argument("--reps", type=positive(int), default=8)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args(argv)
    if args.database_url:
        os.environ["DIRECTORY_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DIRECTORY_LOG_LEVEL", "WARNING")
    from werkzeug.test import EnvironBuilder

    from directory import create_app

    app = create_app()
    swapped = swaps(args.before.resolve(), args.functions)
    postcodes = sample_postcodes(args.data_dir, args.sample)
    environs = [
        EnvironBuilder(
            path="/api/v1/patch", query_string="postcode=" + urllib.parse.quote(p)
        ).get_environ()
        for p in postcodes
    ]

    def call(environ: dict[str, Any]) -> tuple[str, bytes]:
        status: list[str] = []
        body = app.wsgi_app(dict(environ), lambda s, h, e=None: status.append(s))
        return status[0], b"".join(body)

    started = time.monotonic()
    while not call(environs[0])[0].startswith("200"):  # (a served app builds in the background)
        if time.monotonic() - started > 300:
            raise BenchError("the patch did not answer 200 within 300 s")
        time.sleep(1)
    for environ in environs:
        call(environ)
    use(swapped, "before")
    answers = [call(environ) for environ in environs]
    use(swapped, "after")
    if answers != [call(environ) for environ in environs]:
        raise BenchError("the two checkouts' functions answer differently")
    gc.collect()
    gc.freeze()
    print(
        f"## {len(args.functions)} function(s) swapped with {args.before}'s: a patch's mean µs, "
        f"{len(environs):,} new postcodes a repetition, {args.chunk} at a time each way\n"
    )
    saved = []
    for rep in range(args.reps):
        spent = {"before": 0.0, "after": 0.0}
        for start in range(0, len(environs), args.chunk):
            chunk = environs[start : start + args.chunk]
            order = (
                ("before", "after") if (start // args.chunk + rep) % 2 == 0 else ("after", "before")
            )
            for which in order:
                use(swapped, which)
                clock = time.perf_counter()
                for environ in chunk:
                    call(environ)
                spent[which] += time.perf_counter() - clock
        before, after = (spent[k] / len(environs) * 1e6 for k in ("before", "after"))
        saved.append(before - after)
        print(
            f"- repetition {rep + 1}: before {before:.0f}, after {after:.0f}, saved {before - after:.0f} µs"
        )
    print(
        f"\nsaved a patch: median {statistics.median(saved):.1f} µs ({', '.join(f'{s:.0f}' for s in saved)})"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench_swap: {error}", file=sys.stderr)
        sys.exit(1)
