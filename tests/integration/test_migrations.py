"""The Alembic migrations build exactly the schema the models describe, on each database."""

import subprocess
import sys

import pytest

from tests.databases import DATABASE_KINDS, temporary_database
from tests.stack import ROOT


def flask_db(command: list[str], database_url: str, instance: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "testing", "DATABASE_URL": database_url, "INSTANCE_PATH": instance}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "proxyapp", "db", *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_upgrade_matches_models_and_downgrade_works(kind, tmp_path):
    with temporary_database(kind, tmp_path) as url:
        upgraded = flask_db(["upgrade"], url, str(tmp_path))
        assert upgraded.returncode == 0, upgraded.stderr
        checked = flask_db(["check"], url, str(tmp_path))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "No new upgrade operations detected" in checked.stdout + checked.stderr
        downgraded = flask_db(["downgrade", "base"], url, str(tmp_path))
        assert downgraded.returncode == 0, downgraded.stderr
