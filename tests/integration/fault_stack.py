"""Helpers for fault-injection tests and the soak: a stack tuned to recover in seconds, and probes into it."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from redis import Redis

from tests.conftest import CANONICAL_BODY
from tests.databases import temporary_database
from tests.integration.conftest import TERMINAL, register_over_http
from tests.stack import Stack

# Short timeouts, backoffs, leases and intervals: the same machinery, on a scale of seconds.
FAST_RECOVERY_ENV = {
    "UPSTREAM_TIMEOUT": "2",
    "UPSTREAM_CONNECT_TIMEOUT": "1",
    "UPSTREAM_MAX_ATTEMPTS": "3",
    "UPSTREAM_BACKOFF_BASE": "0.2",
    "UPSTREAM_BACKOFF_MAX": "1",
    "JOB_TIMEOUT": "30",
    "UPSTREAM_DEADLINE": "15",
    "CIRCUIT_FAILURE_THRESHOLD": "4",
    "CIRCUIT_OPEN_SECONDS": "2",
    "JOB_LEASE_SECONDS": "2",
    "RECONCILE_INTERVAL_SECONDS": "0.5",
    "MAX_RUNS": "2",
    "WORKER_MAINTENANCE_INTERVAL": "5",
    "WORKER_MONITORING_INTERVAL": "1",
    "RATE_LIMIT": "100000/minute",
    "MAX_PENDING": "100000",
}


def start_stack(workdir: Path, redis_url: str, database_url: str | None, *, workers: int = 2,
                env: dict[str, str] | None = None, scheduler: bool = True) -> Stack:
    """A running stack with FAST_RECOVERY_ENV; prints its logs if it fails to start."""
    return Stack(workdir, redis_url, database_url=database_url, workers=workers,
                 env={**FAST_RECOVERY_ENV, **(env or {})}, scheduler=scheduler).start()


@contextmanager
def recovering_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str, database_kind: str,
                     name: str, env: dict[str, str] | None = None) -> Iterator[Stack]:
    """A running FAST_RECOVERY_ENV stack (plus `env`) on a throwaway database of the given kind."""
    workdir = Path(tmp_path_factory.mktemp(name))
    with temporary_database(database_kind, workdir) as database_url, \
            Stack(workdir, redis_url, database_url=database_url, env={**FAST_RECOVERY_ENV, **(env or {})}) as running:
        yield running


def api_session(stack: Stack) -> requests.Session:
    """An API client holding a fresh account's key (and no cookies)."""
    _, key = register_over_http(stack.base_url, f"user{uuid.uuid4().hex[:8]}")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session


def unique_body(rng: random.Random | None = None) -> dict:
    """A valid request body that is (very probably) unlike any other, so the simulator counts its calls apart."""
    rng = rng or random.Random()
    return {**CANONICAL_BODY, "generation_length": rng.randint(1, 128),
            "inference_threshold": round(rng.uniform(0.01, 0.99), 6)}


def wait_for(api: requests.Session, url: str, statuses: Iterable[str], timeout: float = 30.0) -> dict:
    """Poll a prediction until its status is one of `statuses`."""
    wanted = set(statuses)
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = api.get(url, timeout=10).json()
        if body.get("status") in wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"prediction still {body.get('status')} after {timeout} s, wanted {sorted(wanted)}")


def wait_terminal(api: requests.Session, url: str, timeout: float = 30.0) -> dict:
    """Poll a prediction until it is terminal."""
    return wait_for(api, url, TERMINAL, timeout)


def lease_holder(stack: Stack, redis: Redis, prediction_id: str) -> str | None:
    """The name of the stack process whose run holds the prediction's lease, if any."""
    value = redis.get(f"proxyapp:{stack.env['QUEUE_NAME']}:lease:{prediction_id}")
    if value is None:
        return None
    pid = int(value.decode().split(":", 1)[0])
    return next((name for name, process in stack.processes.items() if process.pid == pid), None)


def wait_lease_holder(stack: Stack, redis: Redis, prediction_id: str, timeout: float = 30.0,
                      other_than: str | None = None) -> str:
    """Wait until a worker process (other than `other_than`) holds the prediction's lease."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = lease_holder(stack, redis, prediction_id)
        if holder is not None and holder != other_than:
            return holder
        time.sleep(0.05)
    raise AssertionError(f"no worker took prediction {prediction_id} within {timeout} s")
