"""/metrics: who may read it, and what it reports about requests, predictions, the queue and the upstream."""

from __future__ import annotations

import itertools
import platform
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import config as app_config
from devtools.embedded_redis import free_port
from proxyapp import create_app
from proxyapp.extensions import db
from proxyapp.metrics.build import PYPROJECT, project_version
from proxyapp.metrics.shared import observe_upstream_call, record_finished
from proxyapp.services.predictions.run import run_prediction
from proxyapp.services.upstream.circuit import circuit_breaker
from proxyapp.services.upstream.client import UpstreamClient, UpstreamError, UpstreamErrorCode, UpstreamResult
from tests.conftest import CANONICAL_BODY, bearer
from tests.metrics import Samples, parse_samples, value

TOKEN = "metrics-token-" + "x" * 32
REMOTE = {"REMOTE_ADDR": "203.0.113.7"}
_lengths = itertools.count()


def scrape(client: FlaskClient, **kwargs: object) -> Samples:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse_samples(response.get_data(as_text=True))


class ScriptedUpstream:
    """Answers every predict() with the output, or raises the given error."""

    def __init__(self, error: UpstreamError | None = None) -> None:
        self.error = error

    def predict(self, body: dict[str, Any], *, within: float | None = None) -> UpstreamResult:
        if self.error is not None:
            raise self.error
        return UpstreamResult(body={"predictions": [[{"code": "E11", "system": "ICD10CM", "display": "T2D"}]]},
                              elapsed_ms=5)


def run_job(app: Flask, prediction_id: str, upstream: ScriptedUpstream) -> None:
    with app.app_context():
        run_prediction(prediction_id, upstream)


def other_app(app_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Flask:
    """Another app of the same deployment (same Redis and queue name), as another process would build."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "other-instance"))
    other = create_app(app_config.TestingConfig({**app_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}", **env}))
    with other.app_context():
        db.create_all()
    return other


def submit(client: FlaskClient, key: str) -> str:
    """Submit a body this account has not sent before (an identical one may be answered from the cache)."""
    body = {**CANONICAL_BODY, "generation_length": next(_lengths) % 128 + 1}
    response = client.post("/v1/predictions", json=body, headers=bearer(key))
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


class TestWithoutToken:
    def test_loopback_clients_read_metrics_when_no_token_is_set(self, client):
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.content_type.startswith("text/plain; version=0.0.4")
        assert response.headers["Cache-Control"] == "no-store"

    def test_other_clients_are_refused_without_a_token(self, client):
        response = client.get("/metrics", environ_base=REMOTE)
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
        assert "proxyapp_" not in response.get_data(as_text=True)

    @pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-IP", "Forwarded"])
    def test_a_request_relayed_by_a_proxy_is_not_loopback(self, client, header):
        assert client.get("/metrics", headers={header: "198.51.100.1"}).status_code == 403


def test_a_short_metrics_token_is_refused_at_start(app_env):
    with pytest.raises(app_config.ConfigError, match="METRICS_TOKEN must be at least 32 characters"):
        app_config.load_config({**app_env, "METRICS_TOKEN": "guessable"})


class TestWithToken:
    @pytest.fixture
    def app_env(self, app_env):
        app_env["METRICS_TOKEN"] = TOKEN
        return app_env

    @pytest.mark.parametrize("headers", [{}, bearer("wrong-token"), {"Authorization": f"Basic {TOKEN}"}])
    def test_with_a_token_set_everyone_must_present_it(self, client, headers):
        response = client.get("/metrics", headers=headers)  # loopback too
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_the_token_works_from_anywhere(self, client):
        assert client.get("/metrics", headers=bearer(TOKEN), environ_base=REMOTE).status_code == 200


def test_openmetrics_is_served_to_scrapers_that_ask_for_it(client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_requests_are_counted_and_timed_by_route_template_and_status(client):
    client.get("/v1/predictions/01ABC", headers=bearer("pxk_not-a-key"))
    client.get("/no/such/page")
    samples = scrape(client)
    labels = {"method": "GET", "route": "/v1/predictions/<prediction_id>", "status": "401"}
    assert value(samples, "proxyapp_http_requests_total", **labels) == 1
    assert value(samples, "proxyapp_http_request_duration_seconds_count", **labels) == 1
    assert value(samples, "proxyapp_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert not any("01ABC" in str(labels) or "/no/such" in str(labels) for _, labels in samples)


def test_counts_are_exact_when_many_threads_serve_at_once(app, client):
    def probe(_: int) -> int:
        return app.test_client().get("/healthz").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(probe, range(200))) == {200}
    samples = scrape(client)
    assert value(samples, "proxyapp_http_requests_total", method="GET", route="/healthz", status="200") == 200
    assert value(samples, "proxyapp_http_request_duration_seconds_count", method="GET", route="/healthz",
                 status="200") == 200


class TestRejections:
    @pytest.fixture
    def app_env(self, app_env):
        app_env.update(ANONYMOUS_RATE_LIMIT="1/minute", MAX_PENDING="1")
        return app_env

    def test_rate_limit_and_pending_cap_rejections_are_counted_apart(self, client, accounts):
        assert [client.get("/v1/me").status_code for _ in range(2)] == [401, 429]
        _, key = accounts.create()
        submit(client, key)
        assert client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).status_code == 429
        samples = scrape(client)
        name = "proxyapp_rate_limit_rejections_total"
        assert value(samples, name, route="/v1/me", reason="rate_limited") == 1
        assert value(samples, name, route="/v1/predictions", reason="too_many_pending") == 1


def test_pending_predictions_queue_depth_and_oldest_age(client, accounts):
    _, key = accounts.create()
    submit(client, key)
    submit(client, key)
    samples = scrape(client)
    assert value(samples, "proxyapp_predictions_pending", status="queued") == 2
    assert value(samples, "proxyapp_predictions_pending", status="running") == 0
    assert value(samples, "proxyapp_queue_depth") == 2
    assert 0 <= value(samples, "proxyapp_queue_oldest_age_seconds") < 60
    assert value(samples, "proxyapp_workers_live") == 0
    assert value(samples, "proxyapp_upstream_circuit_state", state="closed") == 1


def test_finished_predictions_are_counted_by_status_and_error_code(app, client, accounts):
    _, key = accounts.create()
    run_job(app, submit(client, key), ScriptedUpstream())
    run_job(app, submit(client, key), ScriptedUpstream(UpstreamError(UpstreamErrorCode.REJECTED, "no")))
    client.post(f"/v1/predictions/{submit(client, key)}/cancel", headers=bearer(key))
    samples = scrape(client)
    finished = "proxyapp_predictions_finished_total"
    assert value(samples, finished, status="succeeded", error_code="") == 1
    assert value(samples, finished, status="failed", error_code="upstream_rejected") == 1
    assert value(samples, finished, status="canceled", error_code="") == 1


def test_upstream_calls_are_timed_and_errors_counted_by_class(app, client):
    with app.app_context():
        with observe_upstream_call():
            pass
        dead = UpstreamClient(f"http://127.0.0.1:{free_port()}", "key", connect_timeout=1)
        with pytest.raises(UpstreamError):
            dead.predict(CANONICAL_BODY)
    samples = scrape(client)
    duration = "proxyapp_upstream_request_duration_seconds"
    assert value(samples, f"{duration}_count", outcome="ok") == 1
    assert value(samples, f"{duration}_bucket", outcome="ok", le="0.05") == 1
    assert value(samples, f"{duration}_count", outcome="upstream_connection_error") == 1
    assert value(samples, f"{duration}_bucket", outcome="upstream_connection_error", le="+Inf") == 1
    assert value(samples, "proxyapp_upstream_errors_total", error="upstream_connection_error") == 1
    assert value(samples, "proxyapp_upstream_errors_total", error="ok") is None


def test_counters_are_shared_by_every_process_of_the_deployment(app, app_env, tmp_path, monkeypatch):
    """Another app on the same Redis and queue name stands in for a worker process."""
    with other_app(app_env, tmp_path, monkeypatch).app_context():
        record_finished("failed", "worker_lost")
    samples = scrape(app.test_client())
    assert value(samples, "proxyapp_predictions_finished_total", status="failed", error_code="worker_lost") == 1


def test_an_open_circuit_is_reported(app, client):
    with app.app_context():
        breaker = circuit_breaker()
        breaker.redis.set(breaker.open_key, "1", px=60_000)
    samples = scrape(client)
    assert value(samples, "proxyapp_upstream_circuit_state", state="open") == 1
    assert value(samples, "proxyapp_upstream_circuit_state", state="closed") == 0


def test_metrics_are_served_when_redis_is_down_and_say_so(app_env, tmp_path, monkeypatch):
    cut_off = other_app(app_env, tmp_path, monkeypatch, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    with cut_off.app_context():
        record_finished("succeeded")  # lost, without an error
    samples = scrape(cut_off.test_client())
    assert value(samples, "proxyapp_metrics_source_up", source="redis") == 0
    assert value(samples, "proxyapp_metrics_source_up", source="database") == 1
    assert value(samples, "proxyapp_predictions_pending", status="queued") == 0
    assert value(samples, "proxyapp_queue_depth") is None


def test_build_info_names_the_version_python_and_commit(app_env, tmp_path, monkeypatch, client):
    samples = scrape(client)
    labels = {"version": project_version(), "python_version": platform.python_version(), "commit": "unknown"}
    assert project_version() == tomllib.loads(PYPROJECT.read_text())["project"]["version"] != "unknown"
    assert value(samples, "proxyapp_build_info", **labels) == 1.0
    built = other_app(app_env, tmp_path, monkeypatch, BUILD_COMMIT="0a1b2c3")
    assert value(scrape(built.test_client()), "proxyapp_build_info", **{**labels, "commit": "0a1b2c3"}) == 1.0


def test_build_info_says_unknown_when_pyproject_cannot_be_read(tmp_path):
    assert project_version(tmp_path / "missing.toml") == "unknown"
    (tmp_path / "broken.toml").write_text("[project\n")
    assert project_version(tmp_path / "broken.toml") == "unknown"
