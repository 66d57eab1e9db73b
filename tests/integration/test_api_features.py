"""Embeddings, the result cache and batches through real web, worker and simulator processes."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest
import requests

from tests.integration.conftest import simulator
from tests.integration.fault_stack import api_session, unique_body
from tests.stack import Stack

pytestmark = pytest.mark.integration
TERMINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture(scope="module")
def api(stack: Stack) -> requests.Session:
    """One account for the module (registration is rate limited per IP)."""
    return api_session(stack)


def upstream_calls(stack: Stack) -> dict[str, int]:
    """The simulator's call count per endpoint."""
    return simulator(stack, "GET", "/_control/stats").json()["calls"]


def test_an_embedding_runs_to_succeeded(stack, api):
    before = upstream_calls(stack).get("embeddings", 0)
    response = api.post(f"{stack.base_url}/v1/embeddings", json={"history": unique_body()["history"]},
                        headers={"Prefer": "wait=30"}, timeout=40)
    body = response.json()
    assert response.status_code == 200, body
    assert body["kind"] == "embedding" and body["status"] == "succeeded", body
    assert len(body["output"]["embedding"]) > 0
    assert all(isinstance(value, float) for value in body["output"]["embedding"])
    assert upstream_calls(stack).get("embeddings", 0) == before + 1


def test_a_repeated_prediction_is_a_new_sample_unless_a_cached_one_is_accepted(stack, api):
    body = unique_body()
    first = api.post(f"{stack.base_url}/v1/predictions", json=body, headers={"Prefer": "wait=30"}, timeout=40)
    assert first.status_code == 200 and first.json()["status"] == "succeeded", first.text
    calls = upstream_calls(stack)
    again = api.post(f"{stack.base_url}/v1/predictions", json=body, headers={"Cache-Control": "max-age=600"},
                     timeout=10)
    assert again.status_code == 200, again.text
    assert again.json()["cached"] is True and again.json()["id"] != first.json()["id"]
    assert again.json()["output"] == first.json()["output"]
    assert upstream_calls(stack) == calls
    fresh = api.post(f"{stack.base_url}/v1/predictions", json=body, headers={"Prefer": "wait=30"}, timeout=40)
    assert fresh.status_code == 200 and fresh.json()["cached"] is False, fresh.text  # sampled: a new draw
    assert upstream_calls(stack)["predict"] == calls["predict"] + 1


def test_a_batch_of_three_finishes(stack, api):
    response = api.post(f"{stack.base_url}/v1/batches", json={"predictions": [unique_body() for _ in range(3)]},
                        timeout=10)
    assert response.status_code == 202, response.text
    url = response.headers["Location"]
    deadline = time.monotonic() + 30
    batch = response.json()
    while sum(batch["counts"][status] for status in TERMINAL) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        batch = api.get(url, timeout=10).json()
    assert batch["counts"]["succeeded"] == 3, batch
    assert [item["status"] for item in batch["items"]] == ["succeeded"] * 3


def test_curl_follows_a_prediction_as_server_sent_events(stack, api):
    """`curl -N` against the real waitress: events arrive as they happen, not when the stream ends."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    simulator(stack, "PUT", "/_control", json={"latency_ms": 1500})
    try:
        created = api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), timeout=10).json()
        started = time.monotonic()
        with subprocess.Popen([curl, "-sN", "-H", f"Authorization: {api.headers['Authorization']}",
                               created["urls"]["stream"]], stdout=subprocess.PIPE, text=True) as process:
            try:
                first = process.stdout.readline()
                first_at = time.monotonic() - started
                rest = process.stdout.read()  # to the end of the stream (curl exits when the server ends it)
            finally:
                if process.poll() is None:
                    process.kill()
    finally:
        simulator(stack, "PUT", "/_control", json={"latency_ms": 0})
    stream = first + rest
    statuses = re.findall(r'^data: \{"id":"[^"]+","kind":"prediction","status":"(\w+)"', stream, re.MULTILINE)
    assert statuses[0] in ("queued", "running") and statuses[-1] == "succeeded", stream
    assert stream.rstrip().endswith("event: done\ndata: {}"), stream
    assert first_at < 1.5, "the first event waited for the upstream: the stream is buffered"
    assert '"input"' not in stream
