"""geodata (geodata.fetch included) stays a pure library: no Flask, SQLAlchemy or
directory; geopandas, pyogrio, pandas and openpyxl only inside the functions that need them."""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import geodata

PACKAGE_DIR = Path(geodata.__file__).parent
FORBIDDEN_EVER = {"flask", "sqlalchemy", "directory"}
HEAVY = {"geopandas", "pyogrio", "pandas", "openpyxl"}
FORBIDDEN_AT_IMPORT = FORBIDDEN_EVER | HEAVY


def module_names():
    """Every module of the package, subpackages (geodata.fetch) included."""
    walked = pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="geodata.")
    names = ["geodata"] + [m.name for m in walked]
    assert "geodata.fetch.http" in names
    return names


def test_importing_geodata_loads_no_web_db_or_heavy_geo_modules():
    code = (
        "import importlib, json, sys\n"
        f"for name in {module_names()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE_DIR.parent,
    ).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    assert not loaded & FORBIDDEN_AT_IMPORT


def test_no_geodata_module_imports_flask_sqlalchemy_or_directory():
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [
                f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN_EVER
            ]
    assert offenders == []


def test_heavy_libraries_only_imported_inside_functions():
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:  # module level only
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in HEAVY]
    assert offenders == []
