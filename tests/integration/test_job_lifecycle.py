"""The job lifecycle against real processes: retries, the circuit breaker, cancel, Prefer: wait, Idempotency-Key."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests
from redis import Redis

from tests.databases import DATABASE_KINDS
from tests.integration.conftest import simulator
from tests.integration.fault_stack import api_session, recovering_stack, unique_body, wait_for, wait_terminal
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    """A stack tuned to retry and recover in seconds, on SQLite and on PostgreSQL."""
    # One account's failures may open the circuit here, and an open circuit fails at once rather
    # than holding jobs back: the fail-fast and probe path (fair failure: test_fair_failure.py).
    with recovering_stack(tmp_path_factory, redis_url, request.param, "lifecycle",
                          env={"CIRCUIT_MIN_ACCOUNTS": "1", "CIRCUIT_HOLD_SECONDS": "1"}) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_slate(stack: Stack, redis_url: str) -> Iterator[None]:
    """Each test starts with a well simulator and a closed circuit."""
    simulator(stack, "POST", "/_control/reset")
    redis = Redis.from_url(redis_url)
    circuit = [key for key in redis.scan_iter(match=f"proxyapp:{stack.env['QUEUE_NAME']}:circuit:*")]
    if circuit:
        redis.delete(*circuit)
    yield
    simulator(stack, "POST", "/_control/reset")


@pytest.fixture(scope="module")
def api(stack: Stack) -> requests.Session:
    """One account for the module (registration is rate limited per IP)."""
    return api_session(stack)


def submit(stack: Stack, api: requests.Session, body: dict | None = None, **headers: str) -> requests.Response:
    response = api.post(f"{stack.base_url}/v1/predictions", json=body or unique_body(), headers=headers, timeout=70)
    assert response.status_code in (200, 202), response.text
    return response


def upstream_calls(stack: Stack, body: dict) -> int:
    """How many times the simulator received exactly this body."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return simulator(stack, "GET", "/_control/stats").json()["bodies"].get(digest, 0)


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "504", "timeout"])
def test_transient_upstream_failures_are_retried(stack, api, fault):
    simulator(stack, "PUT", "/_control", json={"retry_after": 1, "hang_seconds": 3})
    simulator(stack, "POST", "/_control/script", json={"responses": [fault, "ok"]})
    body = unique_body()
    result = wait_terminal(api, submit(stack, api, body).headers["Location"])
    assert result["status"] == "succeeded", result
    assert result["metrics"]["attempts"] == 2
    assert upstream_calls(stack, body) == 2


def test_retry_after_is_honoured(stack, api):
    simulator(stack, "PUT", "/_control", json={"retry_after": 2})
    simulator(stack, "POST", "/_control/script", json={"responses": ["429", "ok"]})
    result = wait_terminal(api, submit(stack, api).headers["Location"])
    assert result["status"] == "succeeded"
    took = _seconds(result["completed_at"]) - _seconds(result["started_at"])
    assert took >= 2


def test_persistent_server_errors_fail_after_the_attempt_limit(stack, api):
    simulator(stack, "POST", "/_control/script", json={"responses": ["500", "500", "500"]})
    result = wait_terminal(api, submit(stack, api).headers["Location"])
    assert (result["status"], result["error"]["code"], result["metrics"]["attempts"]) == ("failed", "upstream_error", 3)
    assert result["output"] is None


def test_a_rejection_fails_with_the_upstreams_message(stack, api):
    simulator(stack, "POST", "/_control/script", json={"responses": ["400"]})
    result = wait_terminal(api, submit(stack, api).headers["Location"])
    assert result["error"]["code"] == "upstream_rejected"
    assert "simulated rejection" not in result["error"]["message"]  # upstream text is never shown raw
    assert result["error"]["message"] == "The upstream rejected the request as invalid (HTTP 400)."
    assert result["metrics"]["attempts"] == 1


def test_malformed_json_that_persists_is_a_bad_response_and_not_stored(stack, api):
    simulator(stack, "POST", "/_control/script", json={"responses": ["malformed"] * 3})
    result = wait_terminal(api, submit(stack, api).headers["Location"])
    assert (result["error"]["code"], result["output"], result["metrics"]["attempts"]) == (
        "upstream_bad_response", None, 3)


def test_a_malformed_200_is_retried_within_the_deadline(stack, api):
    simulator(stack, "POST", "/_control/script", json={"responses": ["malformed"]})
    result = wait_terminal(api, submit(stack, api).headers["Location"])
    assert (result["status"], result["metrics"]["attempts"]) == ("succeeded", 2)
    assert result["output"]["predictions"]


@pytest.mark.parametrize("fault", ["401", "403"])
def test_a_refused_operator_key_is_logged_and_never_blamed_on_the_user(stack, api, fault):
    simulator(stack, "POST", "/_control/script", json={"responses": [fault]})
    response = submit(stack, api)
    result = wait_terminal(api, response.headers["Location"])
    assert result["error"]["code"] == "upstream_unavailable"
    assert api.get(f"{stack.base_url}/v1/me", timeout=10).status_code == 200
    assert f"upstream refused the operator's API key (HTTP {fault})" in stack.logs()


def test_the_circuit_opens_fails_fast_and_half_opens_to_probe(stack, api):
    simulator(stack, "PUT", "/_control", json={"rate_5xx": 1.0, "retry_after": 0})
    first = wait_terminal(api, submit(stack, api).headers["Location"])
    second = wait_terminal(api, submit(stack, api).headers["Location"])
    calls_when_opened = simulator(stack, "GET", "/_control/stats").json()["calls"]["predict"]
    third = wait_terminal(api, submit(stack, api).headers["Location"])
    assert (first["error"]["code"], first["metrics"]["attempts"]) == ("upstream_error", 3)
    assert (second["error"]["code"], second["metrics"]["attempts"]) == ("upstream_circuit_open", 1)
    assert (third["error"]["code"], third["metrics"]["attempts"]) == ("upstream_circuit_open", 0)
    assert calls_when_opened == 4
    assert simulator(stack, "GET", "/_control/stats").json()["calls"]["predict"] == 4  # failing fast: no call

    simulator(stack, "PUT", "/_control", json={"rate_5xx": 0.0})
    time.sleep(2.2)  # CIRCUIT_OPEN_SECONDS
    probe = wait_terminal(api, submit(stack, api).headers["Location"])
    after = wait_terminal(api, submit(stack, api).headers["Location"])
    assert (probe["status"], after["status"]) == ("succeeded", "succeeded")
    assert "upstream circuit opened" in stack.logs() and "upstream circuit closed" in stack.logs()


def test_canceling_a_running_prediction_discards_its_late_result(stack, api):
    simulator(stack, "PUT", "/_control", json={"latency_ms": 2500})
    body = unique_body()
    location = submit(stack, api, body).headers["Location"]
    wait_for(api, location, {"running"})
    time.sleep(0.3)  # the upstream call is under way
    canceled = api.post(f"{location}/cancel", timeout=10)
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    time.sleep(3)
    result = api.get(location, timeout=10).json()
    assert (result["status"], result["output"], result["error"]) == ("canceled", None, None)
    assert upstream_calls(stack, body) == 1
    again = api.post(f"{location}/cancel", timeout=10)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_prefer_wait_returns_the_finished_prediction(stack, api):
    simulator(stack, "PUT", "/_control", json={"latency_ms": 500})
    response = submit(stack, api, Prefer="wait=20")
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "wait=20"
    assert response.json()["status"] == "succeeded"
    assert "Retry-After" not in response.headers


def test_prefer_wait_gives_up_with_202_when_time_is_up(stack, api):
    simulator(stack, "PUT", "/_control", json={"latency_ms": 4000})
    started = time.monotonic()
    response = submit(stack, api, Prefer="wait=1")
    assert 0.9 <= time.monotonic() - started < 3
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "wait=1"
    assert response.json()["status"] in ("queued", "running")
    wait_terminal(api, response.headers["Location"])


def test_concurrent_retries_with_one_idempotency_key_make_one_upstream_call(stack, api):
    simulator(stack, "PUT", "/_control", json={"latency_ms": 300})
    body = unique_body()
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: submit(stack, api, body, **{"Idempotency-Key": "charge-7"}), range(6)))
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    result = wait_terminal(api, responses[0].headers["Location"])
    later = submit(stack, api, body, **{"Idempotency-Key": "charge-7"})
    assert later.status_code == 200 and later.json()["id"] == result["id"]
    assert later.headers["Idempotent-Replayed"] == "true"
    assert upstream_calls(stack, body) == 1
    other = api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), headers={"Idempotency-Key": "charge-7"},
                     timeout=10)
    assert other.status_code == 422


def _seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()
