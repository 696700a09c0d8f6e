"""The shape of the code: no import cycles between the project's modules, and the layers
import only downwards.

    web (HTTP: resources, site, plumbing)
      → usecases (answers) · ingest (imports, one module per format) · demo
        → store (database, models, migrations, repositories, loading)
          → geodata (pure library; tests/geodata/test_purity.py)

``usecases`` and ``ingest`` sit side by side: an import is a use case that writes (the data
refresh runs imports; an import reads the geography snapshot). Every import statement counts,
those inside functions too: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("directory", "geodata")

#: package → the project packages (and libraries) it must never import
FORBIDDEN = {
    "directory.store": ("directory.web", "directory.usecases", "directory.ingest",
                        "directory.demo", "directory.cli", "directory.app", "flask"),
    "directory.usecases": ("directory.web", "directory.cli", "directory.app", "flask"),
    "directory.ingest": ("directory.web", "directory.cli", "directory.app", "flask"),
    "directory.demo": ("directory.web", "directory.usecases", "directory.cli", "directory.app",
                       "flask"),
    "directory.web": ("directory.cli",),
    # the roots every layer may use import nothing of the project
    "directory.errors": ("directory", "flask"),
    "directory.settings": ("directory",),
    "directory.progress": ("directory",),
}  # fmt: skip


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(path: Path, modules: dict[str, Path] | None = None) -> set[str]:
    """Every name imported anywhere in the file; ``from a import b`` is ``a.b`` when that is
    one of ``modules``, else ``a``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if modules is not None and full in modules else node.module)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the project modules it imports (explicitly: not the implicit import of a
    module's parent packages)."""
    return {
        name: {target for target in imports_of(path, modules) if target in modules and target != name}
        for name, path in modules.items()
    }  # fmt: skip


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(error.args[1])
    return None


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / "directory"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from directory.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from directory import a\n    return a\n")
    (package / "c.py").write_text("import directory.a\n")
    modules = {
        name: path
        for name, path in project_modules(tmp_path).items() if name.startswith("directory")
    }  # fmt: skip
    graph = import_graph(modules)
    assert graph["directory.b"] == {"directory.a"}
    assert set(find_cycle(graph) or []) == {"directory.a", "directory.b"}
    (package / "b.py").write_text("def thing():\n    return 1\n")
    assert find_cycle(import_graph(modules)) is None


def test_no_import_cycles_between_the_projects_modules():
    graph = import_graph(project_modules())
    assert len(graph) > 80  # the walk found the project
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package):
    modules = project_modules()
    own = {n: p for n, p in modules.items() if n == package or n.startswith(package + ".")}
    assert own, f"no module {package}"
    offenders = defaultdict(list)
    for name, path in own.items():
        for target in imports_of(path, modules):
            if any(_under(target, forbidden) for forbidden in FORBIDDEN[package]):
                offenders[name].append(target)
    assert dict(offenders) == {}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")
