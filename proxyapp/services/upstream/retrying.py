"""Retrying transient upstream failures: exponential backoff with jitter, Retry-After, one deadline.

Written here rather than taken from urllib3's `Retry` because the loop must also stop at
a total deadline below the job timeout, consult the shared circuit breaker before every
call, and count every call on the prediction (`metrics.attempts`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxyapp.services.upstream.circuit import CircuitBreaker
from proxyapp.services.upstream.client import UpstreamError, UpstreamResult


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient failures."""

    max_attempts: int
    deadline: float
    backoff_base: float
    backoff_max: float

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RetryPolicy:
        """The policy configured by UPSTREAM_MAX_ATTEMPTS, UPSTREAM_DEADLINE and UPSTREAM_BACKOFF_*."""
        return cls(config["UPSTREAM_MAX_ATTEMPTS"], config["UPSTREAM_DEADLINE"], config["UPSTREAM_BACKOFF_BASE"],
                   config["UPSTREAM_BACKOFF_MAX"])

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        backoff = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        # "Equal jitter": always wait at least half the backoff, spread the rest so workers desynchronise.
        jittered = backoff / 2 + rng.uniform(0, backoff / 2)
        if retry_after is None:
            return jittered
        # The upstream said when; a little jitter keeps the workers it told from returning at once.
        return retry_after + rng.uniform(0, self.backoff_base)


@dataclass
class Calls:
    """What the retry loop did: calls made and milliseconds spent waiting on the upstream."""

    count: int = 0
    upstream_ms: int = 0


def call_with_retries(call: Callable[[float], UpstreamResult], policy: RetryPolicy, breaker: CircuitBreaker, *,
                      before_call: Callable[[], None], sleep: Callable[[float], None] = time.sleep,
                      clock: Callable[[], float] = time.monotonic,
                      rng: random.Random | None = None) -> tuple[UpstreamResult, Calls]:
    """Call until success, a final error, the attempt limit or the deadline; raise the last error.

    `call` gets the seconds left before the deadline; `before_call` runs before each call
    (it records the attempt and may raise to stop, e.g. when the prediction was canceled).
    A raised UpstreamError carries the total upstream milliseconds in `elapsed_ms`.
    """
    rng = rng or random.Random()
    calls = Calls()
    started = clock()
    while True:
        try:
            breaker.before_call()
        except UpstreamError as error:
            error.elapsed_ms = calls.upstream_ms if calls.count else None
            raise
        before_call()
        calls.count += 1
        try:
            result = call(policy.deadline - (clock() - started))
        except UpstreamError as error:
            breaker.record(error)
            calls.upstream_ms += error.elapsed_ms or 0
            wait = policy.delay(calls.count, error.retry_after, rng)
            if not _worth_retrying(error, calls.count, policy, clock() - started + wait):
                error.elapsed_ms = calls.upstream_ms
                raise
            sleep(wait)
            continue
        breaker.record(None)
        calls.upstream_ms += result.elapsed_ms
        return result, calls


def _worth_retrying(error: UpstreamError, attempts: int, policy: RetryPolicy, elapsed_after_wait: float) -> bool:
    """A transient error with attempts left and time left for the wait and another call."""
    return error.is_transient and attempts < policy.max_attempts and elapsed_after_wait < policy.deadline
