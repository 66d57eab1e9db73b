"""Webhooks through real processes: waitress, RQ workers (with RQ's scheduling), Redis, the simulator, and a receiver."""

from __future__ import annotations

import re
import threading
import time
import typing
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from standardwebhooks import Webhook

from tests.databases import DATABASE_KINDS, temporary_database
from tests.integration.conftest import register_over_http
from tests.integration.fault_stack import unique_body
from tests.stack import Stack

pytestmark = pytest.mark.integration


class Recorder(BaseHTTPRequestHandler):
    """Records every POST; answers the scripted statuses of its path first, then 200."""

    received: typing.ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    statuses: typing.ClassVar[dict[str, list[int]]] = {}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        script = self.statuses.get(self.path, [])
        self.send_response(script.pop(0) if script else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class WebhookReceiver:
    """A local HTTP receiver on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        Recorder.received, Recorder.statuses = [], {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, path: str, count: int = 1, timeout: float = 60.0) -> list[tuple[dict[str, str], bytes]]:
        """The first `count` requests to `path`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [(headers, body) for got_path, headers, body in Recorder.received if got_path == path]
            if len(got) >= count:
                return got
            time.sleep(0.1)
        raise AssertionError(f"{count} request(s) to {path} did not arrive in {timeout} s: {Recorder.received}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver()
    yield running
    running.close()


# Short backoff and a fast upkeep tick: a retried delivery comes back within seconds.
FAST_RETRIES = {"WEBHOOK_BACKOFF_BASE": "0.5", "WEBHOOK_BACKOFF_MAX": "1", "RECONCILE_INTERVAL_SECONDS": "0.5"}


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    workdir = Path(tmp_path_factory.mktemp("stack"))
    with temporary_database(request.param, workdir) as database_url:
        with Stack(workdir, redis_url, database_url=database_url, workers=1, env=FAST_RETRIES) as running:
            yield running


def webhook_secret(browser: requests.Session, base_url: str) -> str:
    """The signing secret shown on the account page."""
    page = browser.get(f"{base_url}/account", timeout=10).text
    match = re.search(r'data-testid="webhook-secret">(whsec_[^<]+)<', page)
    assert match, "no webhook secret on the account page"
    return match.group(1)


def test_completed_is_received_verified_and_the_result_fetched_with_the_key(stack, receiver):
    browser, key = register_over_http(stack.base_url, f"hook{int(time.time() * 1000) % 10**8}")
    secret = webhook_secret(browser, stack.base_url)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    body, path = unique_body(), f"/done-{uuid.uuid4().hex}"  # the receiver outlives one database's stack
    response = api.post(f"{stack.base_url}/v1/predictions", json={**body, "webhook": receiver.url + path},
                        timeout=10)
    assert response.status_code == 202, response.text
    [(headers, raw)] = receiver.wait_for(path)
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
    Recorder.statuses[path] = [500]
    response = requests.post(f"{stack.base_url}/v1/predictions",
                             json={**unique_body(), "webhook": receiver.url + path},
                             headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 202, response.text
    (first_headers, _), (again_headers, again) = receiver.wait_for(path, count=2)
    assert first_headers["webhook-id"] == again_headers["webhook-id"]  # the same delivery, retried
    assert Webhook(secret).verify(again, again_headers)["data"]["status"] == "succeeded"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = browser.get(f"{stack.base_url}/account", timeout=10).text
        if "badge-delivered" in page:
            break
        time.sleep(0.2)
    assert "badge-delivered" in page and re.search(r"<td>2</td>", page), "the delivery shows two attempts"
