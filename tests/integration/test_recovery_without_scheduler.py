"""Recovery with only the Procfile's `web` and `worker` running: the workers' own reconciler re-runs lost work."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
import requests
from redis import Redis

from tests.databases import DATABASE_KINDS, temporary_database
from tests.integration.conftest import simulator
from tests.integration.fault_stack import api_session, start_stack, unique_body, wait_lease_holder, wait_terminal
from tests.stack import Stack

pytestmark = pytest.mark.integration
RECOVERY_BOUND = 60
_worker_numbers = itertools.count(200)


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("no-scheduler")
    with temporary_database(request.param, workdir) as database_url:
        running = start_stack(workdir, redis_url, database_url, scheduler=False)
        try:
            assert "scheduler" not in running.processes
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def api(stack: Stack) -> requests.Session:
    return api_session(stack)


@pytest.fixture(autouse=True)
def well_simulator(stack: Stack) -> Iterator[None]:
    simulator(stack, "POST", "/_control/reset")
    yield
    simulator(stack, "POST", "/_control/reset")


def live_workers(stack: Stack) -> int:
    return requests.get(f"{stack.base_url}/readyz", timeout=10).json()["checks"]["workers"]["live"]


def kill(stack: Stack, name: str) -> float:
    stack.kill(name)
    stack.processes[name].wait(timeout=10)
    return time.monotonic()


def test_a_prediction_whose_worker_was_killed_is_terminal_within_a_minute(stack, api, redis_url):
    simulator(stack, "PUT", "/_control", json={"latency_ms": 1500})
    location = api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), timeout=10).headers["Location"]
    holder = wait_lease_holder(stack, Redis.from_url(redis_url), location.rsplit("/", 1)[1])
    time.sleep(0.5)  # the upstream call is under way
    simulator(stack, "PUT", "/_control", json={"latency_ms": 0})
    killed_at = kill(stack, holder)
    stack.start_worker(next(_worker_numbers))
    result = wait_terminal(api, location, timeout=RECOVERY_BOUND)
    recovery = time.monotonic() - killed_at
    print(f"recovered in {recovery:.1f} s")
    assert result["status"] == "succeeded", result
    assert recovery < RECOVERY_BOUND
    assert "re-enqueued 1" in stack.logs()


def test_the_killed_worker_stops_counting_as_live(stack):
    deadline = time.monotonic() + 20
    while live_workers(stack) != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert live_workers(stack) == 2, _diagnose(stack)
    victim = next(name for name in stack.processes if name.startswith("worker") and stack.processes[name].poll() is None)
    kill(stack, victim)
    deadline = time.monotonic() + 15  # beats every 0.5 s; stale after 5 s
    while live_workers(stack) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert live_workers(stack) == 1
    stack.start_worker(next(_worker_numbers))


def test_a_burst_survives_a_kill_with_nothing_stuck(stack, api, redis_url):
    simulator(stack, "PUT", "/_control", json={"latency_ms": 400})
    locations = [api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), timeout=10).headers["Location"]
                 for _ in range(30)]
    time.sleep(1.5)
    victim = next(name for name in stack.processes if name.startswith("worker") and stack.processes[name].poll() is None)
    killed_at = kill(stack, victim)
    stack.start_worker(next(_worker_numbers))
    results = [wait_terminal(api, location, timeout=RECOVERY_BOUND) for location in locations]
    print(f"burst of {len(locations)} settled {time.monotonic() - killed_at:.1f} s after the kill")
    assert [r["status"] for r in results] == ["succeeded"] * len(locations)
    readiness = requests.get(f"{stack.base_url}/readyz", timeout=10).json()["checks"]
    assert readiness["reconciler"]["ok"] and readiness["overdue_runs"]["count"] == 0


def _diagnose(stack: Stack) -> str:
    redis = Redis.from_url(stack.env["REDIS_URL"])
    queue = stack.env["QUEUE_NAME"]
    beats = redis.zrange(f"proxyapp:{queue}:worker-beats", 0, -1, withscores=True)
    workers = [redis.hmget(key, "hostname", "pid", "state") for key in redis.smembers(f"rq:workers:{queue}")]
    alive = {name: process.pid for name, process in stack.processes.items() if process.poll() is None}
    return f"now={time.time()} beats={beats} workers={workers} alive={alive}"
