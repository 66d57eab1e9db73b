"""Shared fixtures: a real Redis (REDIS_URL or an embedded one), apps, clients, builders."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache
from redis import Redis
from sqlalchemy import create_engine

from config import TestingConfig
from devtools.embedded_redis import EmbeddedRedis
from proxyapp import create_app
from proxyapp.extensions import db
from proxyapp.models import AuditEvent, Prediction, User, utcnow
from proxyapp.openapi import CANONICAL_EXAMPLE
from proxyapp.services.accounts.lifecycle import create_admin, register_user
from proxyapp.services.keys.tokens import IssuedKey, issue_key
from tests.receivers import WebhookReceiver

CANONICAL_BODY = CANONICAL_EXAMPLE  # upstream.md's canonical example, as documented in the API
PASSWORD = "correct horse battery staple"
# A valid production environment (every required setting, none a development default).
PRODUCTION = {
    "PUBLIC_URL": "https://proxy.example.org",
    "DATA_ENCRYPTION_KEY": "lIHy5ZZ6OBMkzHUJcc2DO6z5r4Z-bEmb0S_YWbE5pQE=",
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 48,
    "DATABASE_URL": "postgresql+psycopg://proxy@db/proxy",
    "REDIS_URL": "redis://redis:6379/0",
    "UPSTREAM_URL": "https://api.genhealth.ai",
    "UPSTREAM_API_KEY": "gh_s_k-real-operator-key",
}
MAIL = {"MAIL_FROM": "Proxy <noreply@proxy.example.org>"}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when set (CI's Redis), cleared of this run's keys at the end; otherwise a private embedded redis-server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        forget_isolated_keys(os.environ["REDIS_URL"], ISOLATED_NAMES)
        return
    with EmbeddedRedis() as url:
        yield url


# The queue names and key prefixes isolated_env handed out in this process.
ISOLATED_NAMES: set[str] = set()
_ISOLATED_NAME = re.compile(rb"test-[0-9a-f]{8}")
_JOB_KEY = re.compile(rb"rq:job:[^:]+")


def forget_isolated_keys(url: str, names: set[str]) -> None:
    """Delete the keys that name one of `names` (queues, registries, limits, caches) and the jobs of those queues.

    Many have no expiry: left behind, every run would add thousands to the Redis the next runs
    share (rq-dashboard's pages and the tests that scan keys slow down with their number).
    Another run's keys stay: they carry names this process never handed out.
    """
    client = Redis.from_url(url)
    doomed, jobs = [], []
    for key in client.scan_iter(count=1000):
        named = _ISOLATED_NAME.search(key)
        if named and named.group().decode() in names:
            doomed.append(key)
        elif _JOB_KEY.fullmatch(key):
            jobs.append(key)
    with client.pipeline(transaction=False) as pipe:
        for key in jobs:
            pipe.hget(key, "origin")
        origins = pipe.execute(raise_on_error=False)
    doomed += [key for key, origin in zip(jobs, origins, strict=True)
               if isinstance(origin, bytes) and origin.decode() in names]
    with client.pipeline(transaction=False) as pipe:
        for start in range(0, len(doomed), 1000):
            pipe.unlink(*doomed[start:start + 1000])
        if names:
            pipe.srem("rq:queues", *(f"rq:queue:{name}" for name in names))
        pipe.execute()
    client.close()


# Cheap argon2id: the production-strength defaults cost ~75 ms a hash and are tested on their own
# (test_web builds its app without these); everywhere else they would only spend the suite's time.
CHEAP_HASHING = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024"}


def isolated_env(tmp_path: Path, redis_url: str, **overrides: str) -> dict[str, str]:
    """Environment for a TestingConfig isolated to one test (own database, queue, limit keys), cheap hashing."""
    unique = uuid.uuid4().hex[:8]
    ISOLATED_NAMES.add(f"test-{unique}")
    return {
        "APP_ENV": "testing",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
        "REDIS_URL": redis_url,
        "QUEUE_NAME": f"test-{unique}",
        "RATELIMIT_KEY_PREFIX": f"test-{unique}",
        "SECRET_KEY": "test-secret-key-" + unique,
        **CHEAP_HASHING,
        **overrides,
    }


@pytest.fixture
def app_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """The environment the `app` fixture is built from; tests may edit it before using `app`."""
    return isolated_env(tmp_path, redis_url)


class CompiledTemplates(BytecodeCache):
    """Templates compiled once for all the tests' apps (each app has its own Jinja environment).

    Jinja keys the code by template name and checks it against the source's checksum, so an
    edited template is compiled again.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill the bucket with the code compiled before, if any."""
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep the code just compiled."""
        self.code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


@cache
def empty_schema() -> bytes:
    """An SQLite database file with every table and no rows, made once per run (create_all costs ~7 ms an app)."""
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "schema.db"
        engine = create_engine(f"sqlite:///{path}")
        db.metadata.create_all(engine)
        engine.dispose()
        return path.read_bytes()


@contextmanager
def built_app(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app built from `env` on a fresh database with all tables; disposed of afterwards.

    A new SQLite file starts as a copy of empty_schema(); any other database gets create_all.
    """
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    database = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
    copied = env["DATABASE_URL"].startswith("sqlite:///") and not database.exists()
    if copied:
        database.write_bytes(empty_schema())
    application = create_app(TestingConfig(env))
    application.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    if not copied:
        with application.app_context():
            db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(app_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app on a fresh SQLite database with all tables."""
    with built_app(app_env, tmp_path, monkeypatch) as application:
        yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


class Accounts:
    """Builder for users and keys inside the app."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def create(self, username: str | None = None, password: str = PASSWORD) -> tuple[int, str]:
        """A new user's id and the plaintext of their first key."""
        with self.app.app_context():
            registration = register_user(username or f"user{uuid.uuid4().hex[:8]}", password)
            return registration.user.id, registration.first_key.plaintext

    def add_key(self, user_id: int, name: str = "extra") -> IssuedKey:
        """Another key for an existing user."""
        with self.app.app_context():
            issued = issue_key(db.session.get(User, user_id), name)
            db.session.commit()
            return issued


def invoke(app: Flask, *args: str, input: str | None = None) -> Result:
    """Run one of the app's `flask` commands in-process: its exit code and output."""
    return app.test_cli_runner().invoke(args=list(args), input=input)


NO_TIME = timedelta(0)


def add_prediction(app: Flask, user_id: int, status: str, *, age: timedelta = NO_TIME,
                   finished_ago: timedelta | None = None, error_code: str | None = None, runs: int = 0) -> str:
    """Store a prediction directly, as if it had been accepted `age` ago (and finished `finished_ago`)."""
    now = utcnow()
    with app.app_context():
        prediction = Prediction(user_id=user_id, status=status, input=CANONICAL_BODY, created_at=now - age,
                                completed_at=None if finished_ago is None else now - finished_ago,
                                error_code=error_code, runs=runs)
        db.session.add(prediction)
        db.session.commit()
        return prediction.id


def audit_rows(app: Flask) -> list[tuple[str, str, str | None, object]]:
    """The audit trail, oldest first: (actor, action, target, details) of each event."""
    with app.app_context():
        rows = db.session.query(AuditEvent).order_by(AuditEvent.id).all()
        return [(row.actor_username, row.action, row.target_username, row.details) for row in rows]


@pytest.fixture
def accounts(app: Flask) -> Accounts:
    """Create users and keys."""
    return Accounts(app)


@pytest.fixture
def ada(client: FlaskClient, accounts: Accounts) -> tuple[int, str]:
    """The account `ada`, signed in on `client`: its id and first key."""
    from tests.webforms import sign_in

    user_id, key = accounts.create("ada")
    sign_in(client, "ada")
    return user_id, key


@pytest.fixture
def admin_client(app: Flask, client: FlaskClient) -> FlaskClient:
    """`client`, signed in as the administrator `root`."""
    from tests.webforms import sign_in

    with app.app_context():
        create_admin("root", PASSWORD)
    sign_in(client, "root")
    return client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver on 127.0.0.1 (plain http on loopback: allowed in testing)."""
    running = WebhookReceiver()
    yield running
    running.close()


def bearer(key: str) -> dict[str, str]:
    """Authorization header for an API key."""
    return {"Authorization": f"Bearer {key}"}


def csrf_token(page_html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"',
                      page_html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


# Optional suites: when their service is absent they are deselected and reported once.
_SUITE_NOTES = pytest.StashKey[list[str]]()
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


class OptionalSuite(NamedTuple):
    """Tests under a marker that need something the machine may lack."""

    is_available: Callable[[], bool]
    message: str  # the one summary line when they are deselected; {count} is filled in
    required_by: str | None = None  # an environment flag (CI sets it) that makes absence fail the run


OPTIONAL_SUITES = {
    "postgres": OptionalSuite(lambda: bool(os.environ.get("TEST_DATABASE_URL")),
                              "PostgreSQL tests skipped ({count}): TEST_DATABASE_URL is not set"),
    "e2e": OptionalSuite(lambda: os.access(CHROMIUM, os.X_OK),
                         f"Browser tests skipped ({{count}}): no Chromium at {CHROMIUM}",
                         required_by="REQUIRE_BROWSER_TESTS"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect optional suites whose service is not configured, remembering why."""
    notes = []
    for marker, suite in OPTIONAL_SUITES.items():
        if suite.is_available():
            continue
        dropped = [item for item in items if item.get_closest_marker(marker)]
        if not dropped:
            continue
        note = suite.message.format(count=len(dropped))
        if suite.required_by and os.environ.get(suite.required_by, "0") not in ("", "0"):
            raise pytest.UsageError(f"{suite.required_by} is set, so this fails the run: {note}")
        items[:] = [item for item in items if item not in dropped]
        config.hook.pytest_deselected(items=dropped)
        notes.append(note)
    config.stash[_SUITE_NOTES] = notes


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist a worker collects: it hands its notes to the controller, which prints the summary."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["suite_notes"] = session.config.stash.get(_SUITE_NOTES, [])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """Keep the notes of the first worker that finishes (every worker collects the same tests)."""
    notes = getattr(node, "workeroutput", {}).get("suite_notes")
    if notes is not None and _SUITE_NOTES not in node.config.stash:
        node.config.stash[_SUITE_NOTES] = notes


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """One line per optional suite that did not run."""
    for note in config.stash.get(_SUITE_NOTES, []):
        terminalreporter.write_line(note)

