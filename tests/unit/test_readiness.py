"""/healthz and /readyz: liveness touches nothing; readiness checks database, Redis, workers and the circuit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from rq import Worker
from rq.serializers import JSONSerializer

import config as app_config
from devtools.embedded_redis import free_port
from proxyapp import create_app
from proxyapp.extensions import db, limiter
from proxyapp.models import Prediction, utcnow
from proxyapp.queue import get_queue, get_redis, redis_key
from proxyapp.services.operations.readings import record_worker_beat
from proxyapp.services.predictions import reconcile
from proxyapp.services.upstream.circuit import circuit_breaker
from tests.conftest import CANONICAL_BODY, bearer, isolated_env

PROBES = ["/healthz", "/readyz", "/metrics"]


def closed_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def live_worker(app: Flask) -> Iterator[Worker]:
    """A worker registered on the app's queue, as `python -m workers` would register one."""
    with app.app_context():
        worker = Worker([get_queue()], connection=get_redis(), serializer=JSONSerializer)
        worker.register_birth()
        record_worker_beat()  # what the worker's upkeep thread does every interval
        yield worker
        worker.register_death()


def set_circuit(app: Flask, *, is_open: bool = False, failures: int = 0) -> None:
    with app.app_context():
        breaker = circuit_breaker()
        if is_open:
            get_redis().set(breaker.open_key, "1", px=60_000)
        get_redis().set(breaker.failures_key, failures, px=60_000)


def bare_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], **overrides: str) -> Flask:
    """An app built without creating its tables (so its database may be unreachable)."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    config = app_config.TestingConfig(env)
    for name, value in overrides.items():
        setattr(config, name, value)
    return create_app(config)


def unreachable_database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'missing-directory' / 'x.db'}"


def test_healthz_answers_even_when_every_dependency_is_down(tmp_path, monkeypatch):
    env = isolated_env(tmp_path, closed_redis_url(), DATABASE_URL=unreachable_database(tmp_path))
    response = bare_app(tmp_path, monkeypatch, env).test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_with_a_live_worker_and_a_closed_circuit(client, live_worker):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and response.headers["Cache-Control"] == "no-store"
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    assert checks["workers"] == {"ok": True, "live": 1, "ms": checks["workers"]["ms"]}
    assert checks["upstream_circuit"]["state"] == "closed"


def test_readyz_is_503_without_a_live_worker(client):
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["workers"]["ok"] is False and body["checks"]["workers"]["live"] == 0
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]


def test_a_worker_that_died_no_longer_counts(app, client, live_worker):
    live_worker.register_death()
    assert client.get("/readyz").get_json()["checks"]["workers"]["live"] == 0


def test_readyz_is_503_fast_when_redis_is_down(tmp_path, monkeypatch):
    client = bare_app(tmp_path, monkeypatch, isolated_env(tmp_path, closed_redis_url())).test_client()
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["redis"]["ok"] is False and checks["redis"]["error"] == "ConnectionError"
    assert checks["workers"] == checks["upstream_circuit"] == {"ok": False, "error": "redis unavailable"}
    assert checks["database"]["ok"] is True
    assert "127.0.0.1" not in response.get_data(as_text=True)  # no hosts or ports in the detail


def test_readyz_is_503_when_the_database_is_down(tmp_path, monkeypatch, redis_url):
    env = isolated_env(tmp_path, redis_url, DATABASE_URL=unreachable_database(tmp_path))
    response = bare_app(tmp_path, monkeypatch, env).test_client().get("/readyz")
    assert response.status_code == 503
    database = response.get_json()["checks"]["database"]
    assert database["ok"] is False and database["error"] == "OperationalError"
    assert response.get_json()["checks"]["redis"]["ok"] is True


def test_readyz_is_503_while_the_upstream_circuit_is_open(app, client, live_worker):
    set_circuit(app, is_open=True, failures=5)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["upstream_circuit"]["state"] == "open"


def test_a_half_open_circuit_is_ready_because_a_probe_may_go_through(app, client, live_worker):
    set_circuit(app, failures=app.config["CIRCUIT_FAILURE_THRESHOLD"])
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["upstream_circuit"]["state"] == "half_open"


@pytest.fixture
def tight_default_limits(app_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app whose default and application-wide limits allow two requests a minute."""
    assert not limiter.limit_manager.default_limits, "this fixture assumes the app sets no default limits"
    yield bare_app(tmp_path, monkeypatch, app_env, RATELIMIT_DEFAULT="2/minute", RATELIMIT_APPLICATION="2/minute")
    # Flask-Limiter keeps the first app's defaults in the shared limiter; later apps must not inherit them.
    limiter.limit_manager.set_default_limits([])
    limiter.limit_manager.set_application_limits([])


def test_probes_are_never_rate_limited(tight_default_limits):
    client = tight_default_limits.test_client()
    for path in PROBES:
        statuses = {client.get(path).status_code for _ in range(4)}
        assert 429 not in statuses, path
    assert [client.get("/").status_code for _ in range(3)][-1] == 429  # the limits are in force elsewhere


def test_a_killed_worker_stops_counting_once_its_heartbeat_is_old(app, client, live_worker):
    """SIGKILL leaves RQ's registration for minutes; the heartbeat going stale is what counts."""
    with app.app_context():
        beats = redis_key("worker-beats")
        member = get_redis().zrange(beats, 0, -1)[0]
        get_redis().zadd(beats, {member: time.time() - 3600})
    body = client.get("/readyz").get_json()
    assert body["checks"]["workers"]["live"] == 0 and body["status"] == "unavailable"


def test_readyz_shows_a_reconciler_that_has_not_run_without_gating_on_it(client, live_worker):
    checks = client.get("/readyz").get_json()["checks"]
    assert checks["reconciler"]["ok"] is False and checks["reconciler"]["last_pass_age_seconds"] is None
    assert client.get("/readyz").status_code == 200


def test_readyz_shows_a_recent_reconciler_pass(app, client, live_worker):
    with app.app_context():
        assert reconcile.run_due_pass()
    checks = client.get("/readyz").get_json()["checks"]
    assert checks["reconciler"]["ok"] is True and checks["reconciler"]["last_pass_age_seconds"] < 5


def test_readyz_shows_predictions_running_longer_than_the_job_timeout(app, client, accounts, live_worker):
    _, key = accounts.create()
    prediction_id = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()["id"]
    with app.app_context():
        started = utcnow() - timedelta(seconds=app.config["JOB_TIMEOUT"] + 1)
        db.session.query(Prediction).filter_by(id=prediction_id).update({"status": "running", "started_at": started})
        db.session.commit()
    response = client.get("/readyz")
    assert response.get_json()["checks"]["overdue_runs"] == {"ok": False, "count": 1,
                                                             "ms": response.get_json()["checks"]["overdue_runs"]["ms"]}
    assert response.status_code == 200
