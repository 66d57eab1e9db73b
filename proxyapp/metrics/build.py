"""`proxyapp_build_info`: which build this process runs, as the labels of a constant 1."""

from __future__ import annotations

import platform
import tomllib
from pathlib import Path

from prometheus_client import CollectorRegistry, Info

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def project_version(pyproject: Path = PYPROJECT) -> str:
    """The version in pyproject.toml (proxyapp runs from its source tree, not as an installed package)."""
    try:
        with pyproject.open("rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def build_labels(commit: str | None) -> dict[str, str]:
    """Version, Python version and source commit (BUILD_COMMIT, else `unknown`)."""
    return {"version": project_version(), "python_version": platform.python_version(), "commit": commit or "unknown"}


def register_build_info(registry: CollectorRegistry, commit: str | None) -> None:
    """Add the build gauge to the registry (read once, when the app is built)."""
    Info("proxyapp_build", "The running build: version, Python version and commit; always 1.",
         registry=registry).info(build_labels(commit))
