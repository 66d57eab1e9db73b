"""The Alembic migrations build exactly the schema the models describe, on each database."""


import pytest

from tests.databases import DATABASE_KINDS, flask_db, temporary_database


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
