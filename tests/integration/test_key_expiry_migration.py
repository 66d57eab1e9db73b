"""0010_key_expiry: keys rotated before it get their rotation time back, so they keep showing as rotated."""

import pytest
from sqlalchemy import create_engine, text

from tests.databases import DATABASE_KINDS, flask_db, temporary_database

ROWS = [  # id, name, created_at, expires_at (only rotation set it before 0010)
    (1, "ci", "2026-01-01 10:00:00", "2026-01-02 12:00:00"),  # rotated at 12:00 the day before its grace end
    (2, "ci", "2026-01-01 12:00:00", None),  # its replacement
    (3, "laptop", "2026-01-01 09:00:00", None),  # never rotated
    (4, "old", "2026-01-01 08:00:00", "2026-01-01 20:00:00"),  # rotated, but its replacement is gone
]


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_upgrade_backfills_rotated_at_from_the_replacement(kind, tmp_path):
    with temporary_database(kind, tmp_path) as url:
        assert flask_db(["upgrade", "0007_sessions"], url, str(tmp_path)).returncode == 0
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, username, password_hash, is_admin, is_disabled, created_at,"
                                    " session_version) VALUES (1, 'ada', 'x', false, false, '2026-01-01', 1)"))
            for key_id, name, created, expires in ROWS:
                connection.execute(text(
                    "INSERT INTO api_keys (id, user_id, name, key_hash, display_prefix, created_at, expires_at) "
                    "VALUES (:id, 1, :name, :hash, 'pxk_x', :created, :expires)"),
                    {"id": key_id, "name": name, "hash": f"{key_id:064d}", "created": created, "expires": expires})
        upgraded = flask_db(["upgrade"], url, str(tmp_path))
        assert upgraded.returncode == 0, upgraded.stderr
        with engine.connect() as connection:
            rotated = dict(connection.execute(text("SELECT id, rotated_at FROM api_keys ORDER BY id")).all())
        engine.dispose()
        assert str(rotated[1]).startswith("2026-01-01 12:00:00")
        assert rotated[2] is None and rotated[3] is None
        assert str(rotated[4]).startswith("2026-01-01 20:00:00")
        assert flask_db(["downgrade", "0007_sessions"], url, str(tmp_path)).returncode == 0
