"""The upstream simulator served as its own process (`python -m simulator`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devtools.embedded_redis import free_port
from simulator.validation import canonical_digest
from tests.conftest import CANONICAL_BODY
from tests.stack import ROOT as REPO

pytestmark = pytest.mark.integration

KEY = "gh_s_k-test-key"
TOKEN = {"Authorization": f"Token {KEY}"}
BEARER = {"Authorization": f"Bearer {KEY}"}
CANONICAL = CANONICAL_BODY  # upstream.md's canonical example


def wait_until_healthy(url: str, process: subprocess.Popen, deadline_seconds: float = 30) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "simulator exited during startup"
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail("simulator did not become healthy in time")


@pytest.fixture
def served(tmp_path):
    """Start `python -m simulator` on a free port; always stop it afterwards."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("SIMULATOR_")}
    env.update(SIMULATOR_API_KEY=KEY, SIMULATOR_LATENCY_MS="300")
    with open(tmp_path / "stderr.log", "w+") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--port", str(port)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, process)
            yield url, process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            process.stdout.close()


def test_served_process_answers_concurrently_and_stops_on_sigterm(served):
    url, process = served
    assert process.stdout.readline().strip() == f"simulator listening on {url}"

    def post(_: int) -> requests.Response:
        return requests.post(f"{url}/predict", json=CANONICAL, headers=BEARER, timeout=10)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(post, range(32)))
    # 32 calls of 300 ms each: far under the 9.6 s they would take one after another.
    assert time.monotonic() - started < 3
    assert {response.status_code for response in responses} == {200}
    assert len({response.text for response in responses}) == 1
    stats = requests.get(f"{url}/_control/stats", headers=TOKEN, timeout=5).json()
    assert stats["calls"] == {"predict": 32} and stats["bodies"] == {canonical_digest(CANONICAL): 32}
    process.terminate()
    assert process.wait(timeout=10) == 0
