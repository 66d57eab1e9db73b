"""A user's first session against real processes, on SQLite and PostgreSQL: register, submit, poll, fetch
(the README's own blocks run verbatim in test_readme.py)."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.conftest import CANONICAL_BODY
from tests.integration.conftest import register_over_http, simulator, wait_terminal
from tests.integration.fault_stack import api_session

pytestmark = pytest.mark.integration


@pytest.fixture
def api(stack) -> requests.Session:
    """An API client holding a fresh account's key (and no cookies)."""
    return api_session(stack)


def test_register_predict_poll_succeeded(stack, api):
    simulator(stack, "POST", "/_control/reset")
    response = api.post(f"{stack.base_url}/v1/predictions", json=CANONICAL_BODY, timeout=10)
    assert response.status_code == 202, response.text
    assert response.headers["Location"].startswith(stack.base_url)
    result = wait_terminal(api, response.headers["Location"])
    assert result["status"] == "succeeded", result
    predictions = result["output"]["predictions"]
    assert len(predictions) == 1 and 1 <= len(predictions[0]) <= 10
    assert all(set(event) == {"code", "system", "display"} for event in predictions[0])
    assert result["metrics"]["attempts"] == 1
    assert result["metrics"]["upstream_ms"] >= 0 and result["metrics"]["queue_ms"] >= 0
    assert result["started_at"] <= result["completed_at"]


def test_many_predictions_are_spread_over_workers_and_all_finish(stack, api):
    simulator(stack, "POST", "/_control/reset")
    simulator(stack, "PUT", "/_control", json={"latency_ms": 200})
    urls = [api.post(f"{stack.base_url}/v1/predictions", json=CANONICAL_BODY, timeout=10).headers["Location"]
            for _ in range(6)]
    results = [wait_terminal(api, url) for url in urls]
    simulator(stack, "POST", "/_control/reset")
    assert [r["status"] for r in results] == ["succeeded"] * 6
    assert len({r["id"] for r in results}) == 6


@pytest.mark.parametrize(
    ("scripted", "error_code"),
    [
        ("400", "upstream_rejected"),
        ("401", "upstream_unavailable"),
        ("malformed", "upstream_bad_response"),
    ],
)
def test_final_upstream_failures_are_classified(stack, api, scripted, error_code):
    simulator(stack, "POST", "/_control/reset")
    # A malformed 200 is retried within the deadline (it may be a truncated answer): send it every time.
    responses = [scripted] * (5 if scripted == "malformed" else 1)  # 5: UPSTREAM_MAX_ATTEMPTS
    simulator(stack, "POST", "/_control/script", json={"responses": responses})
    location = api.post(f"{stack.base_url}/v1/predictions", json=CANONICAL_BODY, timeout=10).headers["Location"]
    result = wait_terminal(api, location)
    simulator(stack, "POST", "/_control/reset")
    assert result["status"] == "failed"
    assert result["error"]["code"] == error_code
    assert result["output"] is None


def test_error_paths_over_http(stack, api):
    url = f"{stack.base_url}/v1/predictions"
    assert requests.post(url, json=CANONICAL_BODY, timeout=10).status_code == 401
    assert api.get(f"{url}/01ARZ3NDEKTSV4RRFFQ69G5FAV", timeout=10).status_code == 404
    not_json = api.post(url, data="history", headers={"Content-Type": "text/plain"}, timeout=10)
    assert not_json.status_code == 415
    invalid = api.post(url, json={"history": []}, timeout=10)
    assert invalid.status_code == 422
    for response in (not_json, invalid):
        assert response.json()["error"]["request_id"] == response.headers["X-Request-ID"]


def test_someone_elses_prediction_is_404(stack, api):
    _, other_key = register_over_http(stack.base_url, f"other{uuid.uuid4().hex[:8]}")
    created = api.post(f"{stack.base_url}/v1/predictions", json=CANONICAL_BODY, timeout=10).json()
    response = requests.get(created["urls"]["get"], headers={"Authorization": f"Bearer {other_key}"}, timeout=10)
    assert response.status_code == 404
