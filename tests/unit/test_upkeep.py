"""The reconciler loop in workers and the scheduler: it outlives every exception, logging and counting it."""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from proxyapp.queue import get_redis, redis_key
from proxyapp.services.operations.readings import live_workers, reconciler_age
from proxyapp.services.predictions import reconcile
from workers import upkeep


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    app_env.update(RECONCILE_INTERVAL_SECONDS="0.05")
    return app_env


def errors_counted(app: Flask) -> dict[bytes, bytes]:
    with app.app_context():
        return get_redis().hgetall(redis_key("metrics", "proxyapp_reconciler_errors"))


@pytest.mark.parametrize("error", [ValueError("Execution 1f2e not found in Redis"), RuntimeError("boom"),
                                   KeyError("x")])
def test_a_pass_that_raises_is_logged_counted_and_outlived(app, monkeypatch, caplog, error):
    calls = []

    def failing_then_fine() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return True

    monkeypatch.setattr(upkeep, "run_due_pass", failing_then_fine)
    stop = threading.Event()
    ticks = []

    def counted_tick(app: Flask, *, beat: bool) -> None:
        upkeep.run_once(app, beat=beat)
        ticks.append(1)
        if len(ticks) == 3:
            stop.set()

    upkeep.run_forever(app, stop, tick=counted_tick)
    assert len(calls) == 3
    assert errors_counted(app) == {f'["{type(error).__name__}"]'.encode(): b"1"}
    assert "reconciler pass failed" in caplog.text


def test_the_worker_thread_reconciles_and_beats(app):
    stop = upkeep.start_upkeep(app)
    try:
        with app.app_context():
            for _ in range(100):
                if reconciler_age() is not None:
                    break
                threading.Event().wait(0.05)
            assert reconciler_age() is not None and reconciler_age() < 5
            assert get_redis().zcard(redis_key("worker-beats")) == 1
            assert live_workers() == 0  # beating, but not registered as an RQ worker
    finally:
        stop.set()


def test_a_redis_outage_is_outlived(app, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    def down() -> bool:
        raise RedisConnectionError("down")

    monkeypatch.setattr(reconcile, "recover_lost_predictions", down)
    upkeep.run_once(app)  # no exception
    assert errors_counted(app) == {b'["ConnectionError"]': b"1"}
