"""Worker and scheduler write the web's JSON lines; a submission's X-Request-ID reaches the worker's lines."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import CANONICAL_BODY
from tests.integration.conftest import register_over_http, wait_terminal
from tests.stack import Stack

pytestmark = pytest.mark.integration


def json_lines(path: Path) -> list[dict]:
    """Every line of a process's log, parsed: a line that is not JSON fails the test."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines, f"{path.name} is empty"
    return [json.loads(line) for line in lines]


def wait_for_a_line(path: Path, timeout: float = 30.0) -> None:
    """Wait until a process has written its first log line (the scheduler logs once it is running)."""
    deadline = time.monotonic() + timeout
    while not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path.name} stayed empty for {timeout} s"
        time.sleep(0.1)


@pytest.mark.parametrize("worker_class", ["slots", "fork"])
def test_a_request_id_is_followed_from_the_submission_into_the_workers_json_lines(tmp_path, redis_url, worker_class):
    with Stack(tmp_path, redis_url, workers=1, worker_class=worker_class) as stack:
        _, key = register_over_http(stack.base_url, f"logs{uuid.uuid4().hex[:8]}")
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {key}"
        request_id = f"trace-{uuid.uuid4().hex}"
        created = api.post(f"{stack.base_url}/v1/predictions", json=CANONICAL_BODY,
                           headers={"X-Request-ID": request_id}, timeout=10)
        assert created.status_code == 202 and created.headers["X-Request-ID"] == request_id
        prediction_id = created.json()["id"]
        assert wait_terminal(api, created.headers["Location"])["status"] == "succeeded"
        wait_for_a_line(stack.logdir / "scheduler.log")
        stack.stop()  # a warm shutdown: every line of the finished job is written

    web = json_lines(stack.logdir / "web.log")
    assert any(line.get("request_id") == request_id and line["logger"] == "proxyapp.request" for line in web)
    worker = json_lines(stack.logdir / "worker-0.log")
    traced = [line for line in worker if line.get("request_id") == request_id]
    assert {line["logger"] for line in traced} >= {"rq.worker", "workers.predictions"}
    assert all(line["prediction_id"] == prediction_id and line["job_id"] == prediction_id for line in traced)
    succeeded = next(line for line in traced if line["message"] == "prediction succeeded")
    assert succeeded["attempt"] == 1 and succeeded["level"] == "info"
    assert any("Job OK" in line["message"] for line in traced)  # RQ's own line, with the job's fields
    scheduler = json_lines(stack.logdir / "scheduler.log")
    assert any(line["logger"] == "workers.scheduler" for line in scheduler)
