"""Crash recovery against real processes: kill -9 a worker mid-job; stop and start Redis during submissions."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from redis import Redis
from sqlalchemy import create_engine, text

from devtools.embedded_redis import EmbeddedRedis
from tests.databases import DATABASE_KINDS, temporary_database
from tests.integration.conftest import simulator
from tests.integration.fault_stack import (
    api_session,
    recovering_stack,
    start_stack,
    unique_body,
    wait_for,
    wait_lease_holder,
    wait_terminal,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration
_worker_numbers = itertools.count(100)


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    with recovering_stack(tmp_path_factory, redis_url, request.param, "crash") as running:
        yield running


@pytest.fixture(scope="module")
def api(stack: Stack) -> requests.Session:
    return api_session(stack)


@pytest.fixture
def well_simulator(stack: Stack) -> Iterator[None]:
    simulator(stack, "POST", "/_control/reset")
    yield
    simulator(stack, "POST", "/_control/reset")


def kill_and_replace(stack: Stack, name: str) -> None:
    """SIGKILL a worker (as a crash or the OOM killer would) and start a fresh one in its place."""
    stack.kill(name)
    stack.processes[name].wait(timeout=10)
    stack.start_worker(next(_worker_numbers))


def test_a_worker_killed_mid_job_is_run_again(stack, api, redis_url, well_simulator):
    redis = Redis.from_url(redis_url)
    simulator(stack, "PUT", "/_control", json={"latency_ms": 5000})
    location = api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), timeout=10).headers["Location"]
    prediction_id = location.rsplit("/", 1)[1]
    holder = wait_lease_holder(stack, redis, prediction_id)
    wait_for(api, location, {"running"})
    time.sleep(0.5)  # the upstream call is under way
    simulator(stack, "PUT", "/_control", json={"latency_ms": 0})
    killed_at = time.monotonic()
    kill_and_replace(stack, holder)
    result = wait_terminal(api, location, timeout=120)
    recovery = time.monotonic() - killed_at
    assert result["status"] == "succeeded", result
    assert result["metrics"]["attempts"] == 2
    assert recovery < 30  # JOB_LEASE_SECONDS=2 here; the defaults bound it well under 2 minutes
    assert "re-enqueued 1" in stack.logs()


def test_a_prediction_whose_runs_keep_dying_fails_as_worker_lost(stack, api, redis_url, well_simulator):
    redis = Redis.from_url(redis_url)
    simulator(stack, "PUT", "/_control", json={"latency_ms": 1900})  # just under UPSTREAM_TIMEOUT
    location = api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), timeout=10).headers["Location"]
    prediction_id = location.rsplit("/", 1)[1]
    first = wait_lease_holder(stack, redis, prediction_id)
    time.sleep(0.5)  # the run has started and is calling upstream
    kill_and_replace(stack, first)
    second = wait_lease_holder(stack, redis, prediction_id, timeout=60, other_than=first)
    time.sleep(0.5)
    kill_and_replace(stack, second)  # MAX_RUNS=2: no third run
    result = wait_terminal(api, location, timeout=60)
    assert (result["status"], result["error"]["code"]) == ("failed", "worker_lost")
    assert result["output"] is None


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_redis_stopped_and_started_during_submissions(kind, tmp_path):
    """Every 202 ends terminal, every refusal is a clean 503, and no refused submission leaves a row."""
    own_redis = EmbeddedRedis()  # a private server on a fixed port, restartable; never the machine's Redis
    with own_redis as redis_url, temporary_database(kind, tmp_path) as database_url:
        stack = start_stack(tmp_path, redis_url, database_url)
        try:
            accepted = _submit_through_an_outage(stack, own_redis)
        except BaseException:
            print(stack.logs())
            raise
        finally:
            stack.stop()
        assert _stored_predictions(database_url) == accepted


def _stored_predictions(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM predictions")).scalar_one()
    engine.dispose()
    return count


def _submit_through_an_outage(stack: Stack, own_redis: EmbeddedRedis) -> int:
    """Submit continuously while Redis goes away and comes back; check every answer; return how many were accepted."""
    api = api_session(stack)
    responses: list[requests.Response] = []
    stop = threading.Event()

    def submit_continuously() -> None:
        while not stop.is_set():
            responses.append(api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), timeout=30))
            time.sleep(0.05)

    submitter = threading.Thread(target=submit_continuously)
    submitter.start()
    time.sleep(1.5)
    own_redis.stop()
    time.sleep(3)
    own_redis.start()
    time.sleep(3)
    stop.set()
    submitter.join()

    statuses = {r.status_code for r in responses}
    accepted = [r for r in responses if r.status_code == 202]
    refused = [r for r in responses if r.status_code == 503]
    assert statuses <= {202, 503}, [(r.status_code, r.text[:200]) for r in responses if r.status_code not in (202, 503)]
    assert refused, "the outage was not noticed"
    assert all(r.json()["error"]["code"] == "unavailable" and r.headers.get("Retry-After") for r in refused)
    results = [wait_terminal(api, r.headers["Location"], timeout=90) for r in accepted]
    assert [r["status"] for r in results] == ["succeeded"] * len(accepted)
    return len(accepted)
