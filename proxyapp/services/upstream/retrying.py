"""Retrying transient upstream failures: exponential backoff with jitter, Retry-After, one deadline.

Written here rather than taken from urllib3's `Retry` because the loop must also stop at
a total deadline below the job timeout, consult the shared circuit breaker before every
call, and let its caller count every call on the prediction (`metrics.attempts`) and stop
between calls (the prediction was canceled): the caller writes the loop around `Retries`.
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


class Retries:
    """One request's retry loop, driven by its caller: check the circuit, start a call, report how it went.

    The caller writes the loop, so whatever must happen between calls (counting the call
    on the prediction, stopping when it was canceled) reads in order in the caller's code;
    this keeps the policy, the breaker, the clock and what the calls so far took.
    """

    def __init__(self, policy: RetryPolicy, breaker: CircuitBreaker, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.breaker = breaker
        self.calls = Calls()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._started = clock()

    def check_circuit(self) -> None:
        """Raise CircuitOpenError unless the breaker lets a call through now.

        The error carries the upstream milliseconds so far in `elapsed_ms`: None before any call.
        """
        try:
            self.breaker.before_call()
        except UpstreamError as error:
            error.elapsed_ms = self.calls.upstream_ms if self.calls.count else None
            raise

    def start_call(self) -> float:
        """Count the call about to be made; the seconds it has before the deadline."""
        self.calls.count += 1
        return self.policy.deadline - (self._clock() - self._started)

    def back_off(self, error: UpstreamError) -> bool:
        """Record a failed call and wait before the next; False at once if it was the last.

        A last error carries the total upstream milliseconds in `elapsed_ms`.
        """
        self.breaker.record(error)
        self.calls.upstream_ms += error.elapsed_ms or 0
        wait = self.policy.delay(self.calls.count, error.retry_after, self._rng)
        if not _worth_retrying(error, self.calls.count, self.policy, self._clock() - self._started + wait):
            error.elapsed_ms = self.calls.upstream_ms
            return False
        self._sleep(wait)
        return True

    def succeeded(self, result: UpstreamResult) -> Calls:
        """Record a successful call; what the calls took in all."""
        self.breaker.record(None)
        self.calls.upstream_ms += result.elapsed_ms
        return self.calls


def _worth_retrying(error: UpstreamError, attempts: int, policy: RetryPolicy, elapsed_after_wait: float) -> bool:
    """A transient error with attempts left and time left for the wait and another call."""
    return error.is_transient and attempts < policy.max_attempts and elapsed_after_wait < policy.deadline
