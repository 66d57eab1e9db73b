"""The layout that docs/architecture.md describes: services in groups, each group's index complete,
and production code that never imports the development tools."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "proxyapp" / "services"
GROUPS = sorted(p for p in SERVICES.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def public_names(module: Path) -> list[str]:
    """The module-level functions and classes of a module that do not start with an underscore."""
    tree = ast.parse(module.read_text())
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")]


def imported_modules(module: Path) -> set[str]:
    """Every module name an `import` or `from … import` statement in the file names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_services_hold_only_groups():
    flat = [p.name for p in SERVICES.glob("*.py") if p.name != "__init__.py"]
    assert flat == [], f"put {flat} in a group under proxyapp/services/"


def test_the_services_index_names_every_group():
    index = ast.get_docstring(ast.parse((SERVICES / "__init__.py").read_text())) or ""
    listed = [line[2:].split(":", 1)[0] for line in index.splitlines() if line.startswith("- ")]
    assert sorted(listed) == [group.name for group in GROUPS]


@pytest.mark.parametrize("group", GROUPS, ids=lambda p: p.name)
def test_group_index_names_every_module_and_public_name(group: Path):
    index = ast.get_docstring(ast.parse((group / "__init__.py").read_text())) or ""
    entries = {line[2:].split(":", 1)[0]: line for line in index.replace("\n  ", " ").splitlines()
               if line.startswith("- ")}
    for module in sorted(group.glob("*.py")):
        if module.name == "__init__.py":
            continue
        assert module.stem in entries, f"{group.name}/__init__.py does not list {module.stem}"
        missing = [name for name in public_names(module) if name not in entries[module.stem].split(": ", 1)[1]
                   .replace(",", " ").split()]
        assert missing == [], f"{group.name}/__init__.py does not name {module.stem}'s {missing}"


def test_production_code_never_imports_the_development_tools():
    offenders = [str(path.relative_to(ROOT)) for package in ("proxyapp", "workers") for path in (ROOT / package).rglob("*.py")
                 if any(name == "devtools" or name.startswith("devtools.") for name in imported_modules(path))]
    for top in ("wsgi.py", "config.py"):
        if any(name.startswith("devtools") for name in imported_modules(ROOT / top)):
            offenders.append(top)
    assert offenders == []
