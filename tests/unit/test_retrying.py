"""The retry loop: backoff with jitter, Retry-After, the attempt limit and the total deadline."""

from __future__ import annotations

import random

import pytest

from proxyapp.services.upstream.circuit import CircuitOpenError
from proxyapp.services.upstream.client import UpstreamClient, UpstreamError, UpstreamErrorCode, UpstreamResult
from proxyapp.services.upstream.retrying import Calls, Retries, RetryPolicy

POLICY = RetryPolicy(max_attempts=4, deadline=30.0, backoff_base=1.0, backoff_max=8.0)


class OpenBreaker:
    """A breaker that lets every call through and remembers what it was told."""

    def __init__(self) -> None:
        self.recorded: list[str | None] = []

    def before_call(self) -> None:
        pass

    def record(self, error: UpstreamError | None) -> None:
        self.recorded.append(error.code.value if error else None)


class FakeTime:
    """A clock that only moves when the loop sleeps or a call takes time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(outcomes: list[UpstreamError | None], time: FakeTime, call_seconds: float = 0.5):
    """A call that fails or succeeds as scripted, taking call_seconds each time."""
    seen: list[float] = []

    def call(within: float) -> UpstreamResult:
        seen.append(within)
        time.now += call_seconds
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return UpstreamResult(body={"predictions": []}, elapsed_ms=int(call_seconds * 1000))

    call.seen = seen  # type: ignore[attr-defined]
    return call


def error(code: UpstreamErrorCode, retry_after: float | None = None) -> UpstreamError:
    return UpstreamError(code, code.value, retry_after=retry_after, elapsed_ms=500)


def call_until_answered(call, retries: Retries) -> tuple[UpstreamResult, Calls]:
    """The loop a caller of Retries writes (as the prediction run does): check, call, back off or give up."""
    while True:
        retries.check_circuit()
        try:
            result = call(retries.start_call())
        except UpstreamError as error:
            if not retries.back_off(error):
                raise
        else:
            return result, retries.succeeded(result)


def run(outcomes, policy=POLICY, time=None):
    time = time or FakeTime()
    call = scripted(outcomes, time)
    result = call_until_answered(call, Retries(policy, OpenBreaker(), sleep=time.sleep, clock=time.clock,
                                               rng=random.Random(7)))
    return result, time, call.seen


@pytest.mark.parametrize("code", [UpstreamErrorCode.SERVER_ERROR, UpstreamErrorCode.TIMEOUT,
                                  UpstreamErrorCode.CONNECTION, UpstreamErrorCode.RATE_LIMITED])
def test_transient_errors_are_retried_until_success(code):
    (_result, calls), time, seen = run([error(code), error(code), None])
    assert calls.count == 3 == len(seen)
    assert calls.upstream_ms == 1500
    assert len(time.sleeps) == 2


@pytest.mark.parametrize("code", [UpstreamErrorCode.REJECTED, UpstreamErrorCode.UNAVAILABLE,
                                  UpstreamErrorCode.BAD_RESPONSE])
def test_final_errors_are_not_retried(code):
    with pytest.raises(UpstreamError) as raised:
        run([error(code)])
    assert raised.value.code is code


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(max_attempts=10, deadline=1000.0, backoff_base=1.0, backoff_max=8.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not a constant


def test_retry_after_is_honoured():
    (_, calls), time, _ = run([error(UpstreamErrorCode.RATE_LIMITED, retry_after=5), None])
    assert calls.count == 2
    assert 5 <= time.sleeps[0] <= 5 + POLICY.backoff_base


def test_attempt_limit_raises_the_last_error_with_total_upstream_time():
    with pytest.raises(UpstreamError) as raised:
        run([error(UpstreamErrorCode.SERVER_ERROR)] * 4)
    assert raised.value.code is UpstreamErrorCode.SERVER_ERROR
    assert raised.value.elapsed_ms == 4 * 500


def test_a_retry_after_beyond_the_deadline_gives_up_at_once():
    with pytest.raises(UpstreamError) as raised:
        run([error(UpstreamErrorCode.RATE_LIMITED, retry_after=3600), None])
    assert raised.value.code is UpstreamErrorCode.RATE_LIMITED


def test_the_total_deadline_bounds_calls_and_sleeps():
    policy = RetryPolicy(max_attempts=100, deadline=10.0, backoff_base=1.0, backoff_max=2.0)
    time = FakeTime()
    with pytest.raises(UpstreamError):
        run([error(UpstreamErrorCode.TIMEOUT)] * 100, policy=policy, time=time)
    assert time.now <= policy.deadline


def test_each_call_is_told_the_time_left():
    time = FakeTime()
    call = scripted([error(UpstreamErrorCode.SERVER_ERROR), None], time, call_seconds=2.0)
    call_until_answered(call, Retries(POLICY, OpenBreaker(), sleep=time.sleep, clock=time.clock,
                                      rng=random.Random(3)))
    first, second = call.seen
    assert first == POLICY.deadline
    assert second == pytest.approx(POLICY.deadline - 2.0 - time.sleeps[0])


class OpeningBreaker(OpenBreaker):
    """A breaker whose circuit opens after `calls` calls were let through."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls_left = calls

    def before_call(self) -> None:
        if self.calls_left == 0:
            raise CircuitOpenError()
        self.calls_left -= 1


@pytest.mark.parametrize(("calls_before", "elapsed_ms"), [(0, None), (2, 1000)])
def test_an_open_circuit_stops_the_loop_with_the_upstream_time_so_far(calls_before, elapsed_ms):
    time = FakeTime()
    call = scripted([error(UpstreamErrorCode.SERVER_ERROR)] * calls_before + [None], time)
    with pytest.raises(CircuitOpenError) as raised:
        call_until_answered(call, Retries(POLICY, OpeningBreaker(calls_before), sleep=time.sleep, clock=time.clock))
    assert len(call.seen) == calls_before
    assert raised.value.elapsed_ms == elapsed_ms  # None: no call was made (the run then uncounts its first)


def test_the_breaker_hears_every_outcome():
    time = FakeTime()
    breaker = OpenBreaker()
    call_until_answered(scripted([error(UpstreamErrorCode.SERVER_ERROR), None], time),
                        Retries(POLICY, breaker, sleep=time.sleep, clock=time.clock))
    assert breaker.recorded == ["upstream_error", None]


def test_a_call_never_outlasts_the_time_left():
    client = UpstreamClient("http://127.0.0.1:9", "key", connect_timeout=3.05, read_timeout=30)
    assert client._timeouts(None) == (3.05, 30)
    assert client._timeouts(12.5) == (3.05, 12.5)
    assert client._timeouts(1.0) == (1.0, 1.0)
    assert client._timeouts(-4) == (0.1, 0.1)
