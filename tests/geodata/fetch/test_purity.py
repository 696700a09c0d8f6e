"""geodata.fetch stays a pure, light library: heavy modules only inside functions."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import geodata.fetch

FETCH_DIR = Path(geodata.fetch.__file__).parent
NEVER = {"flask", "sqlalchemy", "directory"}
NOT_AT_IMPORT = NEVER | {"pandas", "pyogrio", "geopandas", "openpyxl"}


def test_importing_geodata_fetch_loads_no_heavy_or_web_modules():
    code = "import json, sys, geodata.fetch\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=FETCH_DIR.parent.parent,
    ).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    assert not loaded & NOT_AT_IMPORT
    assert "requests" in loaded  # the one HTTP library, fine at import


def test_no_module_level_import_of_heavy_or_web_modules():
    offenders = []
    for path in sorted(FETCH_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            top_level = node in tree.body
            for name in names:
                root = name.split(".")[0]
                if root in NEVER or (top_level and root in NOT_AT_IMPORT):
                    offenders.append(f"{path.name}:{node.lineno} {name}")
    assert offenders == []


def test_sources_have_the_interface_in_order():
    from geodata.fetch import SOURCES

    assert list(SOURCES) == [
        "boroughs",
        "wards",
        "codepoint",
        "nspl",
        "crime",
        "population",
        "mopac-grants",
    ]
    for name, source in SOURCES.items():
        assert source.name == name
        assert source.description and isinstance(source.keys, tuple) and source.keys
        assert callable(source.discover) and callable(source.fetch)
