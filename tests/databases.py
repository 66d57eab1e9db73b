"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL schema on TEST_DATABASE_URL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.stack import ROOT

POSTGRES_SKIP_REASON = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set (CI sets it when PostgreSQL runs)"
DATABASE_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def temporary_database(kind: str, workdir: Path) -> Iterator[str]:
    """Yield the URL of an empty database of the given kind; dropped afterwards.

    On PostgreSQL it is a schema of its own in TEST_DATABASE_URL's database, made the connections'
    search_path (tables, types and sequences all live there): CREATE DATABASE costs ~0.3 s, a schema
    a few milliseconds. The connections carry the schema's name as application_name, so those still
    open at the end are ended before the schema is dropped, as DROP DATABASE ... WITH (FORCE) did.
    """
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'proxyapp-{uuid.uuid4().hex[:8]}.db'}"
        return
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        pytest.skip(POSTGRES_SKIP_REASON)
    name = f"proxyapp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield make_url(server_url).update_query_dict(
            {"options": f"-csearch_path={name}", "application_name": name}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = :name AND pid <> pg_backend_pid()"), {"name": name})
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


def flask_db(command: list[str], database_url: str, instance: str) -> subprocess.CompletedProcess:
    """Run `flask --app proxyapp db <command>` in a fresh process on `database_url`; its result, never raising."""
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "testing", "DATABASE_URL": database_url, "INSTANCE_PATH": instance}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "proxyapp", "db", *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=120)
