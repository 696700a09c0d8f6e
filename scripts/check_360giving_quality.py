"""Run 360Giving's data-quality checks (its Data Quality Tool's) over a 360Giving package,
offline, and print what they report.

The checks are the library lib360dataquality (github.com/ThreeSixtyGiving/dataquality),
which is not on PyPI and is not a dependency of the project: run this with the Python of a
virtualenv of its own that has it, never the project's::

    python -m venv /tmp/dq
    /tmp/dq/bin/pip install 'libcove>=0.18.0' python-dateutil rangedict ijson \\
        'jsonschema<4' json-merge-patch
    /tmp/dq/bin/pip install --no-deps ./dataquality   # a checkout of that repository
    DIRECTORY_GIVING360_PREFIX=360G-demo-lfsd directory export demo.json
    /tmp/dq/bin/python scripts/check_360giving_quality.py demo.json \\
        --org-id-register ./register                  # a checkout of org-id/register

It does what the tool's ``tools/cove_checks.py`` does (``common_checks_360``: the schema,
its codelists, then the "quality accuracy" and "usefulness" checks) without its
downloads: the package and grant schemas are the project's copies
(``directory/data/standards/360giving``), and so are the codelists, which libcove would
fetch from 360Giving's site (``codelists/``: those of the fields the directory writes; the
schema's others, for grants to individuals and ``locationScope``, read as empty, which
libcove takes as nothing to check against), and the org-id prefixes, which libcove
fetches from org-id.guide, are read from the org-id register's lists when
``--org-id-register`` is given (written where libcove keeps its copy, as it would).
README "360Giving" records what it reported on the demo's package.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

STANDARD = Path(__file__).resolve().parents[1] / "directory/data/standards/360giving"


def _org_ids(register: Path) -> None:
    """libcove's copy of org-id.guide's lists, made from the register's files and dated
    far ahead so that libcove does not try to download them."""
    import libcove.lib.common

    lists = [json.loads(p.read_text("utf-8")) for p in sorted(register.glob("lists/*/*.json"))]
    if not lists:
        sys.exit(f"No lists/*/*.json under {register}: give a checkout of org-id/register.")
    target = Path(libcove.lib.common.__file__).with_name("org-ids.json")
    target.write_text(json.dumps({"downloaded": "2099-01-01", "lists": lists}), "utf-8")


def _codelists() -> None:
    """libcove reads each codelist the schema names from the codelists' web address: read
    it from the project's copy instead (one not shipped as empty: nothing to check)."""
    import csv

    import libcove.lib.common

    def load_codelist(url: str, config: object = None) -> dict[str, str]:
        path = STANDARD / "codelists" / url.rsplit("/", 1)[-1]
        if not path.is_file():
            return {}
        with path.open(encoding="utf-8", newline="") as f:
            return {row["Code"]: row.get("Title", "") for row in csv.DictReader(f)}

    libcove.lib.common.load_codelist = load_codelist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", type=Path, help="a 360Giving JSON package")
    parser.add_argument("--org-id-register", type=Path, help="a checkout of org-id/register")
    args = parser.parse_args()
    if args.org_id_register:
        _org_ids(args.org_id_register)
    _codelists()

    # (imported here: the module reads the org-id prefixes when imported)
    from lib360dataquality.cove.schema import Schema360
    from lib360dataquality.cove.threesixtygiving import TEST_CLASSES, common_checks_360

    data = json.loads(args.package.read_text("utf-8"))
    with tempfile.TemporaryDirectory() as work:
        schema = Schema360(
            work,
            str(STANDARD / "360-giving-package-schema.json"),
            str(STANDARD / "360-giving-schema.json"),
        )
        context = common_checks_360({"file_type": "json"}, work, data, schema)
    print(f"{len(data['grants'])} grants; schema errors: {context['validation_errors_count']}")
    for error in context["validation_errors"][:20]:
        print("  ", error[0][:300])
    checked = sorted(name for name, codes in schema.core_codelists.items() if codes)
    print(f"codelists checked: {', '.join(checked) or 'none (not read)'}")
    for kind in ("closed", "open"):
        values = context[f"additional_{kind}_codelist_values"]
        print(f"values not in {kind} codelists: {len(values)}")
        for path, found in values.items():
            print(f"  {path} ({found['codelist']}): {', '.join(sorted(found['values']))}")
    for kind in TEST_CLASSES:
        results = context[f"{kind}_checks"] or []
        print(f"{kind}: {len(results)} checks failed")
        for message, locations, _ in results:
            print(f"  {message['type']}: {message['count']} ({message['percentage']:.1%})")
            print(f"    e.g. {', '.join(locations[:3])}")


if __name__ == "__main__":
    main()
