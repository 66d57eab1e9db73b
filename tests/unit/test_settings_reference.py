""".env.example is the settings reference: every variable read is there, in its group, with its default.

The names read are found in the code itself: config.py's env readers (by parsing it), any other
`os.environ` read in the app's processes, and the `${NAME}`s the Procfile and docker-compose.yml use.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from dotenv import dotenv_values

from config import DEV_SECRET_KEY, load_config
from tests.stack import ROOT

REFERENCE = ROOT / ".env.example"
CONFIG_READERS = {"_int", "_float", "_bool"}  # (env, NAME, default); besides env.get(NAME) and env[NAME]
PYTHON_SOURCES = ["wsgi.py", "proxyapp", "workers", "devtools"]
SHELL_SOURCES = ["Procfile", "Procfile.dev", "docker-compose.yml", "deploy/entrypoint.sh"]
SETTING_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
SHELL_VARIABLE = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
SHELL_DEFAULT = re.compile(r"\$\{([A-Z][A-Z0-9_]*):-([^}]*)\}")


def _constant_name(node: ast.AST, where: str) -> str:
    assert isinstance(node, ast.Constant) and isinstance(node.value, str), (
        f"{where}: a variable read under a computed name; read it under its literal name so this test sees it")
    return node.value


def config_reads() -> dict[str, str]:
    """Each variable config.py reads, with the function that reads it."""
    reads: dict[str, str] = {}
    for function in ast.walk(ast.parse((ROOT / "config.py").read_text())):
        if not isinstance(function, ast.FunctionDef) or function.name in CONFIG_READERS:
            continue  # the readers themselves read under their `name` argument
        for node in ast.walk(function):
            where = f"config.py:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CONFIG_READERS:
                reads[_constant_name(node.args[1], where)] = function.name
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                  and isinstance(node.func.value, ast.Name) and node.func.value.id == "env"):
                reads[_constant_name(node.args[0], where)] = function.name
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "env":
                reads[_constant_name(node.slice, where)] = function.name
    return reads


def _python_files() -> list[Path]:
    files = []
    for source in PYTHON_SOURCES:
        path = ROOT / source
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def _environ_read(node: ast.Attribute, parents: dict[ast.AST, ast.AST], where: str) -> str:
    """The name `os.environ` is read under here (os.environ.get(NAME, ...), os.environ[NAME])."""
    parent = parents[node]
    if isinstance(parent, ast.Subscript):
        return _constant_name(parent.slice, where)
    call = parents.get(parent)
    assert isinstance(parent, ast.Attribute) and parent.attr == "get" and isinstance(call, ast.Call), (
        f"{where}: os.environ used other than as os.environ.get(NAME) or os.environ[NAME]; this test cannot see "
        "which variables it reads")
    return _constant_name(call.args[0], where)


def python_reads() -> dict[str, str]:
    """Each variable the app's other Python modules read from os.environ, with the file that reads it."""
    reads: dict[str, str] = {}
    for path in _python_files():
        tree = ast.parse(path.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                assert not {"environ", "getenv"} & {alias.name for alias in node.names}, (
                    f"{where}: import os and read os.environ.get(NAME), which this test sees")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
                assert node.attr != "getenv", f"{where}: read os.environ.get(NAME), which this test sees"
                if node.attr == "environ":
                    reads[_environ_read(node, parents, where)] = str(path.relative_to(ROOT))
    return reads


def shell_reads() -> dict[str, str]:
    """Each variable the Procfiles, docker-compose.yml and the entry point expand, with the file."""
    return {name: source for source in SHELL_SOURCES
            for name in SHELL_VARIABLE.findall((ROOT / source).read_text())}


def all_reads() -> dict[str, str]:
    """Every variable read anywhere, with where it is read (config.py's reader function, or the file)."""
    return {**shell_reads(), **python_reads(), **config_reads()}


def reference() -> dict[str, str]:
    """Each variable .env.example documents, with the `##` group it is documented in."""
    documented: dict[str, str] = {}
    group = ""
    for line in REFERENCE.read_text().splitlines():
        if line.startswith("## "):
            group = line[3:]
        elif match := SETTING_LINE.match(line):
            assert match[1] not in documented, f".env.example documents {match[1]} twice"
            documented[match[1]] = group
    return documented


def reader_groups() -> dict[str, str]:
    """Config's _read_* methods with their docstrings (the group headings), in the order Config.__init__ calls them."""
    (config,) = [node for node in ast.parse((ROOT / "config.py").read_text()).body
                 if isinstance(node, ast.ClassDef) and node.name == "Config"]
    methods = [node for node in config.body if isinstance(node, ast.FunctionDef)]
    docstrings = {node.name: ast.get_docstring(node) for node in methods if node.name.startswith("_read_")}
    (init,) = [node for node in methods if node.name == "__init__"]
    called = [node.func.attr for node in ast.walk(init)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in docstrings]
    assert sorted(called) == sorted(docstrings), "Config.__init__ calls each _read_* method once"
    return {name: docstrings[name] for name in called}


def test_the_scan_finds_reads_of_every_kind():
    reads = all_reads()
    assert reads["CIRCUIT_HOLD_SECONDS"] == "_read_upstream" and reads["APP_ENV"] == "load_config"
    assert reads["INSTANCE_PATH"] == "proxyapp/__init__.py" and reads["DASHBOARD_PORT"] == "Procfile"
    assert reads["REDIS_PASSWORD"] == "docker-compose.yml"


def test_every_variable_read_is_documented():
    missing = {name: where for name, where in all_reads().items() if name not in reference()}
    assert not missing, f"read but not documented in .env.example: {missing}"


def test_every_documented_variable_is_read():
    unread = sorted(set(reference()) - set(all_reads()))
    assert not unread, f"documented in .env.example but read nowhere: {unread}"


def test_each_variable_has_a_comment_saying_what_it_means():
    lines = REFERENCE.read_text().splitlines()
    for number, line in enumerate(lines):
        if SETTING_LINE.match(line):
            above = next(text for text in reversed(lines[:number]) if not SETTING_LINE.match(text))
            assert above.startswith("# "), f".env.example: {line} has no comment above it (default and meaning)"


def test_the_groups_are_config_pys_in_its_order():
    groups = list(reader_groups().values())
    headings = list(dict.fromkeys(reference().values()))
    assert len(groups) > 10 and headings[:len(groups)] == groups


def test_each_setting_config_reads_is_documented_in_the_group_that_reads_it():
    groups = reader_groups()
    misplaced = {name: (reference()[name], groups[method]) for name, method in config_reads().items()
                 if method in groups and reference()[name] != groups[method]}
    assert not misplaced, f"documented in another group than the one config.py reads it in: {misplaced}"


def test_the_documented_values_are_the_defaults():
    documented = load_config(dotenv_values(REFERENCE))
    defaults = load_config({})
    assert documented.SECRET_KEY == DEV_SECRET_KEY  # the placeholder development replaces with a generated key
    differ = {name for name in vars(defaults) if name != "SECRET_KEY" and getattr(documented, name) != getattr(
        defaults, name)}
    assert not differ, f"a fresh copy of .env.example would change these settings: {sorted(differ)}"


def test_the_procfile_defaults_are_the_documented_ones():
    values = dotenv_values(REFERENCE)
    defaults = dict(SHELL_DEFAULT.findall((ROOT / "Procfile").read_text()))
    assert defaults and {name: values[name] for name in defaults} == defaults
