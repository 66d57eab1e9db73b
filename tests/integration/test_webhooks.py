"""Webhooks through real processes: waitress, RQ workers (with RQ's scheduling), Redis, the simulator, and a receiver."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from standardwebhooks import Webhook

from tests.databases import DATABASE_KINDS, temporary_database
from tests.integration.conftest import register_over_http, webhook_secret
from tests.integration.fault_stack import unique_body
from tests.stack import Stack

pytestmark = pytest.mark.integration


# Short backoff and a fast upkeep tick: a retried delivery comes back within seconds.
FAST_RETRIES = {"WEBHOOK_BACKOFF_BASE": "0.5", "WEBHOOK_BACKOFF_MAX": "1", "RECONCILE_INTERVAL_SECONDS": "0.5"}


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    workdir = Path(tmp_path_factory.mktemp("stack"))
    with (temporary_database(request.param, workdir) as database_url,
          Stack(workdir, redis_url, database_url=database_url, workers=1, env=FAST_RETRIES) as running):
        yield running


def test_completed_is_received_verified_and_the_result_fetched_with_the_key(stack, receiver):
    browser, key = register_over_http(stack.base_url, f"hook{int(time.time() * 1000) % 10**8}")
    secret = webhook_secret(browser, stack.base_url)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    body, path = unique_body(), f"/done-{uuid.uuid4().hex}"  # the receiver outlives one database's stack
    response = api.post(f"{stack.base_url}/v1/predictions", json={**body, "webhook": receiver.url + path},
                        timeout=10)
    assert response.status_code == 202, response.text
    [hook] = receiver.wait_for(path)
    headers, raw = hook.headers, hook.body
    event = Webhook(secret).verify(raw, headers)
    assert event["type"] == "prediction.completed" and event["data"]["id"] == response.json()["id"]
    assert "input" not in event["data"] and "output" not in event["data"]
    assert body["history"][1]["code"] not in raw.decode()
    result = api.get(event["data"]["urls"]["get"], timeout=10).json()
    assert result["status"] == "succeeded" and result["output"]["predictions"], result
    page = browser.get(f"{stack.base_url}/account", timeout=10).text
    assert "prediction.completed" in page and "badge-delivered" in page


def test_a_receiver_answering_500_first_gets_the_delivery_on_a_retry(stack, receiver):
    browser, key = register_over_http(stack.base_url, f"retry{int(time.time() * 1000) % 10**8}")
    secret = webhook_secret(browser, stack.base_url)
    path = f"/flaky-{uuid.uuid4().hex}"
    receiver.answer(path, 500)
    response = requests.post(f"{stack.base_url}/v1/predictions",
                             json={**unique_body(), "webhook": receiver.url + path},
                             headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 202, response.text
    first, retried = receiver.wait_for(path, count=2)
    first_headers, again_headers, again = first.headers, retried.headers, retried.body
    assert first_headers["webhook-id"] == again_headers["webhook-id"]  # the same delivery, retried
    assert Webhook(secret).verify(again, again_headers)["data"]["status"] == "succeeded"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = browser.get(f"{stack.base_url}/account", timeout=10).text
        if "badge-delivered" in page:
            break
        time.sleep(0.2)
    assert "badge-delivered" in page and "HTTP 200 · 2 attempts" in page, "the delivery shows two attempts"
