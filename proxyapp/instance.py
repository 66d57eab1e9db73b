"""Secrets generated once per instance folder, for development and testing only."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create_secret(path: Path, generate: Callable[[], str]) -> str:
    """The secret stored at path, generating it on first use.

    Written aside and linked into place, so processes starting at the same moment agree
    on one value instead of each writing its own.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        draft.write_text(generate())
        draft.chmod(0o600)
        try:
            path.hardlink_to(draft)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
