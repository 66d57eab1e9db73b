"""The reconciler and retention purge, against a real Redis and RQ queue (no worker runs)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask import Flask
from rq.job import JobStatus

from proxyapp.extensions import db
from proxyapp.models import Prediction, utcnow
from proxyapp.queue import get_queue, get_redis, redis_key
from proxyapp.services.predictions import leases, reconcile
from tests.conftest import CANONICAL_BODY, bearer

LEASE = 0.3


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    app_env.update(JOB_LEASE_SECONDS=str(LEASE), MAX_RUNS="2", RECONCILE_INTERVAL_SECONDS="0.2")
    return app_env


@pytest.fixture
def submitted(client, accounts) -> str:
    _, key = accounts.create()
    response = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key))
    return response.get_json()["id"]


def update_row(app: Flask, prediction_id: str, **values) -> None:
    with app.app_context():
        db.session.query(Prediction).filter_by(id=prediction_id).update(values)
        db.session.commit()


def row(app: Flask, prediction_id: str) -> Prediction:
    with app.app_context():
        prediction = db.session.get(Prediction, prediction_id)
        db.session.expunge(prediction)
        return prediction


def age(app: Flask, prediction_id: str, seconds: float = 60) -> None:
    update_row(app, prediction_id, created_at=utcnow() - timedelta(seconds=seconds))


def lose_job(app: Flask, prediction_id: str) -> None:
    with app.app_context():
        get_queue().fetch_job(prediction_id).delete()


def reconcile_until_settled(app: Flask) -> tuple[int, int]:
    """Two passes a lease period apart: the first suspects, the second acts."""
    with app.app_context():
        first = reconcile.recover_lost_predictions()
        time.sleep(LEASE + 0.05)
        second = reconcile.recover_lost_predictions()
    return first[0] + second[0], first[1] + second[1]


def test_a_waiting_job_is_left_alone(app, submitted):
    age(app, submitted)
    assert reconcile_until_settled(app) == (0, 0)


def test_a_fresh_prediction_is_not_judged(app, submitted):
    lose_job(app, submitted)
    assert reconcile_until_settled(app) == (0, 0)


def test_a_queued_prediction_whose_job_vanished_is_enqueued_again(app, submitted):
    age(app, submitted)
    lose_job(app, submitted)
    with app.app_context():
        assert reconcile.recover_lost_predictions() == (0, 0)  # suspected, not yet acted on
    assert reconcile_until_settled(app) == (1, 0)
    with app.app_context():
        assert get_queue().job_ids == [submitted]
    assert row(app, submitted).status == "queued"


def test_a_running_prediction_without_a_live_run_is_run_again(app, submitted):
    age(app, submitted)
    update_row(app, submitted, status="running", runs=1)
    lose_job(app, submitted)
    assert reconcile_until_settled(app) == (1, 0)
    with app.app_context():
        assert get_queue().job_ids == [submitted]


def test_a_prediction_lost_max_runs_times_fails_as_worker_lost(app, submitted):
    age(app, submitted)
    update_row(app, submitted, status="running", runs=2)
    lose_job(app, submitted)
    assert reconcile_until_settled(app) == (0, 1)
    prediction = row(app, submitted)
    assert (prediction.status, prediction.error_code) == ("failed", "worker_lost")
    assert prediction.completed_at is not None
    with app.app_context():
        assert get_redis().llen(redis_key("finished", submitted)) == 1  # waiters are woken


def test_a_run_holding_its_lease_is_alive(app, submitted):
    age(app, submitted)
    update_row(app, submitted, status="running", runs=1)
    lose_job(app, submitted)
    with app.app_context(), leases.hold(submitted):
        assert reconcile_until_settled(app) == (0, 0)


def test_only_one_scheduler_passes_per_interval(app):
    with app.app_context():
        assert reconcile.run_due_pass()
        assert not reconcile.run_due_pass()
        time.sleep(0.25)
        assert reconcile.run_due_pass()


def test_retention_purges_old_results_and_keeps_status_and_timings(app, client, accounts):
    _, key = accounts.create()
    ids = [client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()["id"] for _ in range(3)]
    old, recent, pending = ids
    finished = {"status": "succeeded", "output": {"predictions": [[]]}, "upstream_ms": 5}
    update_row(app, old, completed_at=utcnow() - timedelta(days=31), **finished)
    update_row(app, recent, completed_at=utcnow() - timedelta(days=29), **finished)
    update_row(app, pending, created_at=utcnow() - timedelta(days=40))
    with app.app_context():
        assert reconcile.run_due_pass()
    purged = row(app, old)
    assert (purged.input, purged.output, purged.status, purged.upstream_ms) == (None, None, "succeeded", 5)
    assert purged.purged_at is not None and purged.completed_at is not None
    assert row(app, recent).input == CANONICAL_BODY and row(app, recent).purged_at is None
    assert row(app, pending).input == CANONICAL_BODY
    response = client.get(f"/v1/predictions/{old}", headers=bearer(key))
    assert response.status_code == 200
    assert response.get_json()["input"] is None and response.get_json()["status"] == "succeeded"


def test_retention_days_are_configurable(app_env, tmp_path, monkeypatch, accounts, client):
    from config import TestingConfig
    from proxyapp import create_app

    _, key = accounts.create()
    prediction_id = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()["id"]
    short = create_app(TestingConfig({**app_env, "RESULT_RETENTION_DAYS": "1"}))
    update_row(short, prediction_id, status="failed", completed_at=utcnow() - timedelta(days=2))
    with short.app_context():
        assert reconcile.purge_expired_results() == 1


def forget_execution_record(app: Flask, prediction_id: str) -> None:
    """What a long outage leaves: the job's execution index names an execution whose hash expired."""
    with app.app_context():
        job = get_queue().fetch_job(prediction_id)
        get_redis().zadd(job.execution_registry.key, {"lost-execution": time.time() + 600})


def test_a_job_whose_execution_record_is_gone_is_still_replaced(app, submitted):
    """RQ's Job.delete() raises `ValueError: Execution … not found in Redis` here; recovery goes on."""
    age(app, submitted)
    update_row(app, submitted, status="running", runs=1)
    forget_execution_record(app, submitted)
    with app.app_context():
        job = get_queue().fetch_job(submitted)
        with pytest.raises(ValueError, match="not found in Redis"):
            job.delete()
        job.set_status(JobStatus.STARTED)  # its worker was killed while running it
    assert reconcile_until_settled(app) == (1, 0)
    with app.app_context():
        assert get_queue().job_ids == [submitted]


def test_one_prediction_that_cannot_be_recovered_does_not_stop_the_others(app, client, accounts, monkeypatch):
    _, key = accounts.create()
    ids = [client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()["id"] for _ in range(2)]
    for prediction_id in ids:
        age(app, prediction_id)
        lose_job(app, prediction_id)
    real_requeue = reconcile.requeue_prediction

    def fail_for_the_first(prediction_id: str) -> None:
        if prediction_id == ids[0]:
            raise TypeError("something unforeseen")
        real_requeue(prediction_id)

    monkeypatch.setattr(reconcile, "requeue_prediction", fail_for_the_first)
    assert reconcile_until_settled(app) == (1, 0)
    with app.app_context():
        assert get_queue().job_ids == [ids[1]]
        assert get_redis().hgetall(redis_key("metrics", "proxyapp_reconciler_errors")) == {b'["TypeError"]': b"1"}
