"""The Redis-backed circuit breaker: opens after consecutive failures, fails fast, half-opens to one probe."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from redis import Redis

from config import redis_client_options
from devtools.embedded_redis import free_port
from proxyapp.queue import redis_key
from proxyapp.services.upstream.circuit import CircuitBreaker, CircuitOpenError, CircuitState, circuit_breaker
from proxyapp.services.upstream.client import UpstreamError, UpstreamErrorCode

SERVER_ERROR = UpstreamError(UpstreamErrorCode.SERVER_ERROR, "HTTP 503")


@pytest.fixture
def redis(redis_url: str) -> Redis:
    return Redis.from_url(redis_url)


def make_breaker(redis: Redis, prefix: str | None = None, open_seconds: float = 0.3) -> CircuitBreaker:
    return CircuitBreaker(redis, prefix or f"test-circuit-{uuid.uuid4().hex}", threshold=3,
                          open_seconds=open_seconds, probe_seconds=5)


def fail(breaker: CircuitBreaker, times: int, error: UpstreamError = SERVER_ERROR) -> None:
    for _ in range(times):
        breaker.before_call()
        breaker.record(error)


def test_opens_after_threshold_consecutive_failures_and_fails_fast(redis, caplog):
    breaker = make_breaker(redis)
    fail(breaker, 2)
    breaker.before_call()  # still closed
    with caplog.at_level(logging.ERROR):
        breaker.record(SERVER_ERROR)
    assert "circuit opened" in caplog.text
    with pytest.raises(CircuitOpenError) as raised:
        breaker.before_call()
    assert raised.value.code is UpstreamErrorCode.CIRCUIT_OPEN


def test_state_is_shared_by_every_worker(redis):
    prefix = f"test-circuit-{uuid.uuid4().hex}"
    fail(make_breaker(redis, prefix), 3)
    with pytest.raises(CircuitOpenError):
        make_breaker(redis, prefix).before_call()


def test_a_success_resets_the_count(redis):
    breaker = make_breaker(redis)
    fail(breaker, 2)
    breaker.record(None)
    fail(breaker, 2)
    breaker.before_call()


@pytest.mark.parametrize("code", [UpstreamErrorCode.RATE_LIMITED, UpstreamErrorCode.REJECTED])
def test_answers_that_show_the_upstream_alive_do_not_trip_it(redis, code):
    breaker = make_breaker(redis)
    fail(breaker, 5, UpstreamError(code, "alive"))
    breaker.before_call()


def test_half_open_lets_exactly_one_probe_through_and_success_closes(redis):
    breaker = make_breaker(redis)
    fail(breaker, 3)
    time.sleep(0.4)
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpenError):
        make_breaker(redis, breaker.failures_key.rsplit(":", 1)[0]).before_call()
    breaker.record(None)
    for _ in range(3):
        breaker.before_call()


def test_a_failed_probe_opens_it_again(redis):
    breaker = make_breaker(redis)
    fail(breaker, 3)
    time.sleep(0.4)
    breaker.before_call()
    breaker.record(SERVER_ERROR)
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_redis_down_lets_calls_through(caplog):
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", **redis_client_options(0.2))
    breaker = make_breaker(dead)
    with caplog.at_level(logging.WARNING):
        fail(breaker, 5)
        breaker.before_call()
    assert "letting the call through" in caplog.text


def test_state_is_closed_until_the_failures_reach_the_threshold(redis):
    breaker = make_breaker(redis)
    assert breaker.state() is CircuitState.CLOSED
    fail(breaker, 2)
    assert breaker.state() is CircuitState.CLOSED


def test_state_is_open_while_no_call_may_be_made(redis):
    breaker = make_breaker(redis, open_seconds=30)
    fail(breaker, 3)
    assert breaker.state() is CircuitState.OPEN


def test_open_for_seconds_is_the_time_left_open_and_none_otherwise(redis):
    breaker = make_breaker(redis, open_seconds=30)
    assert breaker.open_for_seconds() is None
    fail(breaker, 3)
    assert 29 < breaker.open_for_seconds() <= 30
    short = make_breaker(redis)
    fail(short, 3)
    time.sleep(0.4)
    assert short.open_for_seconds() is None


def test_state_is_half_open_once_the_open_time_has_passed_and_closed_after_a_good_probe(redis):
    breaker = make_breaker(redis)
    fail(breaker, 3)
    time.sleep(0.4)
    assert breaker.state() is CircuitState.HALF_OPEN
    breaker.before_call()  # the probe
    assert breaker.state() is CircuitState.HALF_OPEN
    breaker.record(None)
    assert breaker.state() is CircuitState.CLOSED


def test_state_is_read_by_any_handle_on_the_same_prefix(redis):
    prefix = f"test-circuit-{uuid.uuid4().hex}"
    fail(make_breaker(redis, prefix, open_seconds=30), 3)
    assert make_breaker(redis, prefix).state() is CircuitState.OPEN


def test_the_factory_builds_the_deployment_breaker_from_config(app):
    config = app.config
    with app.app_context():
        breaker = circuit_breaker(7)
        assert breaker.open_key == redis_key("circuit", "open")
    assert (breaker.threshold, breaker.min_accounts, breaker.account) == (
        config["CIRCUIT_FAILURE_THRESHOLD"], config["CIRCUIT_MIN_ACCOUNTS"], "7")
    assert breaker.open_ms == int(config["CIRCUIT_OPEN_SECONDS"] * 1000)
    # A probe's lock outlives the longest call it can make.
    assert breaker.probe_ms == int((config["UPSTREAM_CONNECT_TIMEOUT"] + config["UPSTREAM_TIMEOUT"] + 5) * 1000)
