"""Measure the public page (``/``) in headless Chromium: weight, requests and timings.

Makes a fresh SQLite database (``directory init --from DATA_DIR`` then ``directory demo
load``, which also loads the Met's crime and ONS population figures, unless
``--database-url`` names one already loaded), serves the app with gunicorn
(sync workers) on a free local port, and opens the page ``--runs`` times in Debian's
Chromium (``/usr/bin/chromium``) driven by Playwright, each run in a fresh browser context
(an empty cache), then once more in the same context (a warm cache). From the browser's own
Resource and Navigation Timing entries it reports:

* page weight: the bytes of HTML, JS, CSS and vendor files (Leaflet), as transferred
  (compressed: the page's files gzip, the API's answers zstd, as Chromium asks) and
  decoded, and the number of requests, for the first load; the same for the
  API calls the first load makes (the borough list) and those of a postcode search;
* time to first paint / first contentful paint (``performance.getEntriesByType('paint')``),
  DOMContentLoaded and load (navigation timing);
* after submitting a postcode (``--postcode``, default KT1 1EU): the time until the patch is
  drawn (services listed, boundary and sites on the map: the page's ``patch-drawn`` mark)
  and until the borough dashboard is drawn (``dashboard-drawn``).

Prints the medians of the runs as markdown tables (``--json`` also prints every run).
A request to any host other than the local server is reported as an error.

Usage::

    .venv/bin/python scripts/bench_page.py [--runs 7] [--postcode "KT1 1EU"]
        [--workers 2] [--data-dir ../shared/data] [--database-url URL] [--json]

Exit status: 0 when measured, 1 on any error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchlib import (  # noqa: E402
    BenchError,
    default_data_dir,
    directory_env,
    init_database,
    load_demo,
    machine,
    markdown_table,
    serve,
)

CHROMIUM = Path("/usr/bin/chromium")

# the page's own timings, read in the browser
PAGE_FIGURES = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(
    performance.getEntriesByType('paint').map(p => [p.name, p.startTime]));
  const resources = performance.getEntriesByType('resource').map(r => ({
    name: r.name, type: r.initiatorType, transfer: r.transferSize,
    encoded: r.encodedBodySize, decoded: r.decodedBodySize}));
  return {
    navigation: {transfer: nav.transferSize, encoded: nav.encodedBodySize,
                 decoded: nav.decodedBodySize,
                 response_end: nav.responseEnd, dom_content_loaded: nav.domContentLoadedEventEnd,
                 load: nav.loadEventEnd},
    first_paint: paint['first-paint'] ?? null,
    first_contentful_paint: paint['first-contentful-paint'] ?? null,
    resources,
  };
}"""

SUBMIT = """(postcode) => {
  performance.clearMarks('patch-drawn'); performance.clearMarks('dashboard-drawn');
  document.getElementById('postcode').value = postcode;
  const started = performance.now();
  document.getElementById('postcode-form').requestSubmit();
  return started;
}"""

MARKS = """(started) => {
  const mark = (name) => { const m = performance.getEntriesByName(name, 'mark')[0];
                           return m ? m.startTime - started : null; };
  return {patch_drawn: mark('patch-drawn'), dashboard_drawn: mark('dashboard-drawn')};
}"""


def _is_api(url: str) -> bool:
    return "/api/v1/" in url


def _sums(entries: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "requests": len(entries),
        "network": sum(1 for e in entries if e["transfer"] > 0),
        "transfer": sum(e["transfer"] for e in entries),
        "encoded": sum(e["encoded"] for e in entries),
        "decoded": sum(e["decoded"] for e in entries),
    }


def one_run(browser: Any, base: str, postcode: str) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    # a listener, not context.route(): routing would turn the browser's HTTP cache off
    context.on(
        "request",
        lambda request: None if request.url.startswith(base + "/") else outside.append(request.url),
    )
    try:
        page = context.new_page()
        page.goto(base + "/", wait_until="load")
        page.wait_for_selector("#borough option[value^=E09]", state="attached")
        cold = page.evaluate(PAGE_FIGURES)
        started = page.evaluate(SUBMIT, postcode)
        page.wait_for_selector("#results[data-state=ready]", timeout=30_000)
        page.wait_for_selector("#dashboard[data-state=ready]", timeout=30_000)
        marks = page.evaluate(MARKS, started)
        after = page.evaluate("() => performance.getEntriesByType('resource').length")
        search = page.evaluate(PAGE_FIGURES)["resources"][len(cold["resources"]) :]
        assert after >= len(cold["resources"])
        # the same page again in the same context: what a returning reader downloads
        page.goto(base + "/", wait_until="load")
        page.wait_for_selector("#borough option[value^=E09]", state="attached")
        warm = page.evaluate(PAGE_FIGURES)
    finally:
        context.close()
    if outside:
        raise BenchError(f"the page asked for other hosts: {outside}")

    def assets(figures: dict[str, Any]) -> dict[str, int]:
        nav = figures["navigation"]
        files = [r for r in figures["resources"] if not _is_api(r["name"])]
        sums = _sums(files)
        return {
            "requests": sums["requests"] + 1,
            "network": sums["network"] + (1 if nav["transfer"] > 0 else 0),
            "transfer": sums["transfer"] + nav["transfer"],
            "encoded": sums["encoded"] + nav["encoded"],
            "decoded": sums["decoded"] + nav["decoded"],
        }

    return {
        "assets_cold": assets(cold),
        "assets_warm": assets(warm),
        "api_first_load": _sums([r for r in cold["resources"] if _is_api(r["name"])]),
        "api_search": _sums([r for r in search if _is_api(r["name"])]),
        "first_paint_ms": cold["first_paint"],
        "first_contentful_paint_ms": cold["first_contentful_paint"],
        "dom_content_loaded_ms": cold["navigation"]["dom_content_loaded"],
        "load_ms": cold["navigation"]["load"],
        "warm_first_contentful_paint_ms": warm["first_contentful_paint"],
        "patch_drawn_ms": marks["patch_drawn"],
        "dashboard_drawn_ms": marks["dashboard_drawn"],
        "files": [
            {"name": r["name"].replace(base, ""), "encoded": r["encoded"], "decoded": r["decoded"]}
            for r in cold["resources"]
            if not _is_api(r["name"])
        ],
    }


def median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(value)
    return float(statistics.median(values))


def report(runs: list[dict[str, Any]], postcode: str) -> str:
    kb = 1024.0

    def weight(label: str, key: str) -> list[Any]:
        return [
            label,
            int(median(runs, key, "requests")),
            int(median(runs, key, "network")),
            round(median(runs, key, "encoded") / kb, 1),
            round(median(runs, key, "decoded") / kb, 1),
            round(median(runs, key, "transfer") / kb, 1),
        ]

    weights = markdown_table(
        [
            "what",
            "files",
            "over the network",
            "KiB compressed",
            "KiB uncompressed",
            "KiB on the wire",
        ],
        [
            weight("page: HTML + JS + CSS + Leaflet, first visit", "assets_cold"),
            weight("page: the same, returning visit (cached)", "assets_warm"),
            weight("API: first load (borough list)", "api_first_load"),
            weight(f"API: search {postcode} (patch, boundaries, dashboard)", "api_search"),
        ],
    )

    def ms(key: str) -> float:
        return round(median(runs, key), 1)

    timings = markdown_table(
        ["timing (median)", "ms"],
        [
            ["first paint", ms("first_paint_ms")],
            ["first contentful paint", ms("first_contentful_paint_ms")],
            ["DOMContentLoaded", ms("dom_content_loaded_ms")],
            ["load event", ms("load_ms")],
            ["first contentful paint, returning visit", ms("warm_first_contentful_paint_ms")],
            [f"submit {postcode} → patch drawn (list, boundary, sites)", ms("patch_drawn_ms")],
            [f"submit {postcode} → borough dashboard drawn", ms("dashboard_drawn_ms")],
        ],
    )
    files = markdown_table(
        ["file (first visit)", "bytes compressed", "bytes uncompressed"],
        [[f["name"], f["encoded"], f["decoded"]] for f in runs[0]["files"]],
    )
    return f"{weights}\n\n{timings}\n\n{files}"


def run(args: argparse.Namespace) -> int:
    if not CHROMIUM.exists():
        raise BenchError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    data_dir = Path(args.data_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="bench-page-") as tmp:
        instance = Path(tmp)
        url = args.database_url or f"sqlite:///{instance / 'directory.sqlite3'}"
        env = directory_env(url, instance, data_dir)
        if not args.database_url:
            init_database(env, data_dir)
            load_demo(env, data_dir)
        with serve(env, workers=args.workers) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            version = browser.version
            try:
                one_run(browser, base, args.postcode)  # warm the server's caches
                runs = [one_run(browser, base, args.postcode) for _ in range(args.runs)]
            finally:
                browser.close()
    info = machine()
    print(
        f"Public page, {args.runs} runs (median), headless Chromium "
        f"{version} on 127.0.0.1, gunicorn "
        f"{args.workers} sync workers, demo directory; {info['nproc']} cores, "
        f"load {info['loadavg_1m']}\n"
    )
    print(report(runs, args.postcode))
    if args.json:
        print(json.dumps(runs, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs (median)")
    parser.add_argument("--postcode", default="KT1 1EU")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--data-dir", default=str(default_data_dir()))
    parser.add_argument("--database-url", help="an initialised database with the demo loaded")
    parser.add_argument("--json", action="store_true", help="also print every run as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        return run(args)
    except BenchError as error:
        print(f"bench_page: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
