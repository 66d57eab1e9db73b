"""Run leases: a Redis key that says "a live worker is running this prediction right now".

A run takes the lease with SET NX before it starts and a heartbeat thread renews it
every third of `JOB_LEASE_SECONDS`. A worker that is SIGKILLed, or a job that raised,
stops renewing, so the lease expires within `JOB_LEASE_SECONDS` and the reconciler can
re-run the prediction; a second delivery of a job whose run is alive sees the lease
and steps aside. The heartbeat also stops after the job timeout, so a run stuck beyond
RQ's reach cannot hold its prediction forever.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from proxyapp.queue import get_redis, redis_key, write_later

log = logging.getLogger(__name__)

# Renew only our own lease, re-taking it if Redis lost it (restart); never take another run's.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_key(prediction_id: str) -> str:
    """The Redis key of a prediction's run lease."""
    return redis_key("lease", prediction_id)


class Lease:
    """One run's hold on a prediction, renewed by a daemon thread until released."""

    def __init__(self, redis: Redis, key: str, *, ttl: float, max_seconds: float) -> None:
        self.redis = redis
        self.key = key
        self.token = f"{os.getpid()}:{uuid.uuid4().hex}"
        self.ttl_ms = max(1, int(ttl * 1000))
        self.max_seconds = max_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name=f"lease-{key}", daemon=True)

    def acquire(self) -> bool:
        """Take the lease and start renewing it; False if another run holds it."""
        if not self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._thread.start()
        return True

    def release(self) -> None:
        """Stop renewing and drop the lease if it is still ours."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            write_later(lambda pipe: pipe.eval(_RELEASE, 1, self.key, self.token))
        except RedisError:
            log.warning("could not release a run lease; it expires by itself", extra={"lease": self.key})

    def _renew_until_stopped(self) -> None:
        interval = self.ttl_ms / 3000
        renewals = int(self.max_seconds / interval)
        for _ in range(renewals):
            if self._stop.wait(interval):
                return
            try:
                self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl_ms)
            except RedisError:
                log.warning("could not renew a run lease; retrying", extra={"lease": self.key})
        log.error("a run outlived the job timeout; its lease is left to expire", extra={"lease": self.key})


@contextmanager
def hold(prediction_id: str) -> Iterator[bool]:
    """Hold the prediction's lease for the block; yields False (and holds nothing) if it is taken."""
    config = current_app.config
    lease = Lease(get_redis(), lease_key(prediction_id), ttl=config["JOB_LEASE_SECONDS"],
                  max_seconds=config["JOB_TIMEOUT"] + config["JOB_LEASE_SECONDS"])
    if not lease.acquire():
        yield False
        return
    try:
        yield True
    finally:
        lease.release()


def is_held(redis: Redis, prediction_ids: list[str]) -> dict[str, bool]:
    """Which of these predictions a live run holds right now."""
    with redis.pipeline(transaction=False) as pipe:
        for prediction_id in prediction_ids:
            pipe.exists(lease_key(prediction_id))
        return {pid: bool(found) for pid, found in zip(prediction_ids, pipe.execute(), strict=True)}
