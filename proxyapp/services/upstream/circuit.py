"""A circuit breaker for the upstream, shared by every worker through Redis.

Closed: calls go through and consecutive failures are counted. After
`CIRCUIT_FAILURE_THRESHOLD` of them the circuit opens: for `CIRCUIT_OPEN_SECONDS` no
call is made at all. Then it is half-open: exactly one worker may probe; a success
closes the circuit, a failure opens it again. Redis trouble never blocks the upstream:
the breaker then lets calls through (fails open) and says so in the log.

Fair failure: each failure is counted together with the account whose request it was,
and the circuit opens (or half-opens) only once the failures come from at least
`min_accounts` accounts (CIRCUIT_MIN_ACCOUNTS, 2 by default). One account's requests
timing out (a history the upstream chokes on, a burst of huge requests) then fail only
that account's predictions, after their own retries, and never shut everyone else out;
an upstream that is down for real fails everybody's calls and still opens the circuit.
The price: a deployment with a single active account never opens it, and its
predictions spend their retry deadline instead of failing fast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from proxyapp.queue import get_redis, redis_key
from proxyapp.services.upstream.client import UpstreamError, UpstreamErrorCode

log = logging.getLogger(__name__)

# The prefix, inside the deployment's namespace, that the shared breaker keeps its state under.
CIRCUIT_KEY = "circuit"
# A probe's lock outlives the longest call it can make (connect plus read timeout) by this much,
# so no second worker starts probing while the first one's call is still running.
PROBE_SLACK_SECONDS = 5

# Failures that say the upstream is down; 4xx and 429 show it alive and answering.
TRIPPING_CODES = frozenset({UpstreamErrorCode.SERVER_ERROR, UpstreamErrorCode.TIMEOUT, UpstreamErrorCode.CONNECTION})


class CircuitState(str, Enum):
    """The upstream circuit breaker as every worker sees it."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"  # one worker may probe the upstream
    OPEN = "open"  # no calls are made until it has been open CIRCUIT_OPEN_SECONDS


class CircuitOpenError(UpstreamError):
    """The call was not made: the circuit is open, or another worker is probing."""

    def __init__(self) -> None:
        super().__init__(UpstreamErrorCode.CIRCUIT_OPEN,
                         "The upstream is failing; the prediction was not sent to it. Please retry later.")


class CircuitBreaker:
    """Consecutive-failure breaker whose state lives in Redis under `key_prefix`."""

    def __init__(self, redis: Redis, key_prefix: str, *, threshold: int, open_seconds: float,
                 probe_seconds: float, account: str = "", min_accounts: int = 1) -> None:
        self.redis = redis
        self.account = account
        self.min_accounts = min_accounts
        self.accounts_key = f"{key_prefix}:failing-accounts"
        self.failures_key = f"{key_prefix}:failures"
        self.open_key = f"{key_prefix}:open"
        self.probe_key = f"{key_prefix}:probe"
        self.threshold = threshold
        self.open_ms = max(1, int(open_seconds * 1000))
        self.probe_ms = max(1, int(probe_seconds * 1000))
        # Failures older than this are forgotten, but only well after a half-open probe could run.
        self.memory_ms = 2 * self.open_ms + self.probe_ms
        self._failures_seen: int | None = None  # as read by before_call; None: unknown

    def before_call(self) -> None:
        """Raise CircuitOpenError unless a call may be made now."""
        state = self._safely(self._read_state, None)
        if state is None:
            return
        is_open, failures, accounts = state
        self._failures_seen = int(failures or 0)
        if is_open:
            raise CircuitOpenError()
        if self._is_tripped(failures, accounts):
            if not self._safely(lambda: self.redis.set(self.probe_key, "1", nx=True, px=self.probe_ms), True):
                raise CircuitOpenError()
            log.info("upstream circuit half-open: probing with one call")

    def state(self) -> CircuitState:
        """Open while the open key lives, half-open once the failures reach the threshold, else closed.

        Failures count here whichever accounts they came from (as /readyz, /metrics and the
        operator's overview have always shown them); Redis errors reach the caller.
        """
        is_open, failures = self.redis.mget(self.open_key, self.failures_key)
        if is_open:
            return CircuitState.OPEN
        if int(failures or 0) >= self.threshold:
            return CircuitState.HALF_OPEN
        return CircuitState.CLOSED

    def open_for_seconds(self) -> float | None:
        """How long the circuit stays open (until it may half-open), or None when it is not open."""
        remaining_ms = self.redis.pttl(self.open_key)
        return remaining_ms / 1000 if remaining_ms and remaining_ms > 0 else None

    def record(self, error: UpstreamError | None) -> None:
        """Count the outcome of a call that was made (None means it succeeded)."""
        if error is None or error.code not in TRIPPING_CODES:
            # Nothing to reset when the call began with no failures counted (the usual case).
            if (error is None or error.code is not UpstreamErrorCode.RATE_LIMITED) and self._failures_seen != 0:
                self._safely(self._close, None)
            return
        self._safely(self._count_failure, None)

    def _read_state(self) -> tuple[bytes | None, int, int]:
        with self.redis.pipeline(transaction=False) as pipe:
            is_open, failures, accounts = pipe.get(self.open_key).get(self.failures_key).scard(
                self.accounts_key).execute()
        return is_open, int(failures or 0), int(accounts or 0)

    def _is_tripped(self, failures: int, accounts: int) -> bool:
        """Enough consecutive failures, from enough accounts, to stop calling for everyone."""
        return failures >= self.threshold and accounts >= self.min_accounts

    def _close(self) -> None:
        with self.redis.pipeline() as pipe:
            removed = pipe.delete(self.failures_key, self.probe_key).delete(self.accounts_key).execute()[0]
        if removed == 2:
            log.warning("upstream circuit closed: the probe call succeeded")

    def _count_failure(self) -> None:
        with self.redis.pipeline() as pipe:
            pipe.incr(self.failures_key).pexpire(self.failures_key, self.memory_ms)
            pipe.sadd(self.accounts_key, self.account).pexpire(self.accounts_key, self.memory_ms)
            pipe.scard(self.accounts_key)
            results = pipe.execute()
        failures, accounts = results[0], results[-1]
        if self._is_tripped(failures, accounts) and self.redis.set(self.open_key, "1", nx=True, px=self.open_ms):
            self.redis.delete(self.probe_key)
            log.error("upstream circuit opened after %d consecutive failures; no calls for %.0f s",
                      failures, self.open_ms / 1000)

    @staticmethod
    def _safely(action: Callable[[], Any], fallback: Any) -> Any:
        try:
            return action()
        except RedisError as error:
            log.warning("circuit breaker state unavailable (%s); letting the call through", type(error).__name__)
            return fallback


def circuit_breaker(user_id: int | None = None) -> CircuitBreaker:
    """The upstream circuit breaker shared by every process of this deployment, counting failures for `user_id`.

    The probe timeout only matters to a process that calls the upstream through the breaker;
    one that only asks `state()` (readiness, metrics, the overview) never takes the probe lock.
    """
    config = current_app.config
    return CircuitBreaker(
        get_redis(), redis_key(CIRCUIT_KEY),
        threshold=config["CIRCUIT_FAILURE_THRESHOLD"],
        open_seconds=config["CIRCUIT_OPEN_SECONDS"],
        probe_seconds=config["UPSTREAM_CONNECT_TIMEOUT"] + config["UPSTREAM_TIMEOUT"] + PROBE_SLACK_SECONDS,
        account="" if user_id is None else str(user_id),
        min_accounts=config["CIRCUIT_MIN_ACCOUNTS"],
    )
