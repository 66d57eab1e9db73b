"""Operations against real processes: /metrics sees work done in worker processes; /readyz follows the workers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import CANONICAL_BODY, bearer
from tests.integration.conftest import register_over_http, wait_terminal
from tests.metrics import parse_samples, value
from tests.stack import ROOT, Stack

pytestmark = pytest.mark.integration


def metrics(stack: Stack) -> dict:
    response = requests.get(f"{stack.base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return parse_samples(response.text)


def wait_for_readyz(stack: Stack, status: int, live_workers: int, timeout: float = 30.0) -> dict:
    """Poll /readyz until it answers `status` and counts `live_workers` (workers start in their own time)."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(f"{stack.base_url}/readyz", timeout=10)
        live = response.json()["checks"]["workers"].get("live")
        if (response.status_code, live) == (status, live_workers) or time.monotonic() > deadline:
            assert (response.status_code, live) == (status, live_workers), response.text
            return response.json()
        time.sleep(0.2)


def test_metrics_of_the_web_process_count_a_prediction_a_worker_process_finished(stack: Stack):
    _, key = register_over_http(stack.base_url, "metrics-ada")
    api = requests.Session()
    api.headers.update(bearer(key))
    submitted = api.post(f"{stack.base_url}/v1/predictions", json=CANONICAL_BODY, timeout=10)
    assert submitted.status_code == 202, submitted.text
    assert wait_terminal(api, submitted.headers["Location"])["status"] == "succeeded"

    wait_for_readyz(stack, 200, stack.workers_wanted)
    samples = metrics(stack)
    assert value(samples, "proxyapp_predictions_finished_total", status="succeeded", error_code="") == 1
    assert value(samples, "proxyapp_upstream_request_duration_seconds_count", outcome="ok") == 1
    assert value(samples, "proxyapp_http_requests_total", method="POST", route="/v1/predictions", status="202") == 1
    assert value(samples, "proxyapp_predictions_pending", status="queued") == 0
    assert value(samples, "proxyapp_workers_live") == stack.workers_wanted


def test_readyz_is_ready_while_workers_run_and_503_once_they_stop(stack: Stack):
    wait_for_readyz(stack, 200, stack.workers_wanted)
    workers = [process for name, process in stack.processes.items() if name.startswith("worker-")]
    for worker in workers:
        worker.send_signal(signal.SIGTERM)  # a warm shutdown unregisters the worker from RQ
    for worker in workers:
        worker.wait(timeout=30)
    unready = wait_for_readyz(stack, 503, 0)
    assert unready["checks"]["workers"]["ok"] is False
    assert unready["checks"]["database"]["ok"] and unready["checks"]["redis"]["ok"]


def test_the_container_entry_point_runs_the_procfiles_release(tmp_path: Path, redis_url: str):
    stack = Stack(tmp_path, redis_url)  # only for its environment; nothing is started
    env = {**stack.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # the venv's flask
    result = subprocess.run([str(ROOT / "deploy" / "entrypoint.sh"), "release"], env=env, capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    database = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "api_keys", "predictions", "alembic_version"} <= tables
