"""Fair failure against real processes: one account's timeouts do not open the circuit; an open circuit holds work back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.databases import DATABASE_KINDS
from tests.integration.conftest import simulator
from tests.integration.fault_stack import api_session, recovering_stack, unique_body, wait_terminal
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    with recovering_stack(tmp_path_factory, redis_url, request.param, "fair") as running:
        yield running


@pytest.fixture(autouse=True)
def well_simulator(stack: Stack) -> Iterator[None]:
    simulator(stack, "POST", "/_control/reset")
    simulator(stack, "PUT", "/_control", json={"hang_seconds": 3})  # beyond UPSTREAM_TIMEOUT=2
    yield
    simulator(stack, "POST", "/_control/reset")


def submit(stack: Stack, api: requests.Session) -> str:
    response = api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), timeout=10)
    assert response.status_code == 202, response.text
    return response.headers["Location"]


def circuit(stack: Stack) -> str:
    return requests.get(f"{stack.base_url}/readyz", timeout=10).json()["checks"]["upstream_circuit"]["state"]


def test_one_accounts_timeouts_do_not_fail_another_accounts_predictions(stack):
    slow, other = api_session(stack), api_session(stack)
    simulator(stack, "POST", "/_control/script", json={"responses": ["timeout"] * 6})  # 2 predictions x 3 attempts
    failed = [wait_terminal(slow, submit(stack, slow), timeout=60) for _ in range(2)]
    assert [(r["status"], r["error"]["code"]) for r in failed] == [("failed", "upstream_timeout")] * 2
    assert circuit(stack) != "open"  # 6 failures, over the threshold of 4, but from one account
    results = [wait_terminal(other, submit(stack, other), timeout=30) for _ in range(5)]
    assert [(r["status"], r["metrics"]["attempts"]) for r in results] == [("succeeded", 1)] * 5


def test_an_open_circuit_holds_predictions_back_until_the_upstream_answers(stack):
    first, second, third = api_session(stack), api_session(stack), api_session(stack)
    simulator(stack, "PUT", "/_control", json={"hang_seconds": 0})
    simulator(stack, "POST", "/_control/script", json={"responses": ["503"] * 6})
    broken = [submit(stack, first), submit(stack, second)]
    for location in broken:
        wait_terminal(first if location == broken[0] else second, location, timeout=60)
    held = [submit(stack, third) for _ in range(3)]
    results = [wait_terminal(third, location, timeout=60) for location in held]
    assert [r["status"] for r in results] == ["succeeded"] * 3, results
    assert "upstream circuit opened" in stack.logs()
    assert "prediction held back" in stack.logs()
    assert "upstream_circuit_open" not in str(results)
