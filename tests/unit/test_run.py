"""The prediction job in-process: retries, the circuit, leases, and a state machine no duplicate run can break."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from rq.registry import ScheduledJobRegistry

from proxyapp.extensions import db
from proxyapp.models import Prediction, User, utcnow
from proxyapp.queue import get_queue, get_redis, redis_key
from proxyapp.services.predictions import holding, leases, reconcile
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.predictions.run import run_prediction
from proxyapp.services.upstream.circuit import circuit_breaker
from proxyapp.services.upstream.client import UpstreamError, UpstreamErrorCode
from tests.conftest import CANONICAL_BODY, bearer
from tests.fake_upstream import OUTPUT, FakeUpstream, run


@pytest.fixture
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    app_env.update(UPSTREAM_BACKOFF_BASE="0.01", UPSTREAM_BACKOFF_MAX="0.02", UPSTREAM_MAX_ATTEMPTS="3",
                   CIRCUIT_FAILURE_THRESHOLD="3")
    return app_env


def submitter(client, key: str) -> Callable[[], str]:
    """Submits the canonical request with the key; returns the new prediction's id."""
    def _submit() -> str:
        response = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key))
        assert response.status_code == 202, response.get_json()
        return response.get_json()["id"]

    return _submit


@pytest.fixture
def submit(client, accounts) -> Callable[[], str]:
    return submitter(client, accounts.create()[1])


def stored(app: Flask, prediction_id: str) -> Prediction:
    with app.app_context():
        prediction = db.session.get(Prediction, prediction_id)
        db.session.expunge(prediction)
        return prediction


def transient(code: UpstreamErrorCode = UpstreamErrorCode.SERVER_ERROR) -> UpstreamError:
    return UpstreamError(code, "The upstream failed with HTTP 503.", elapsed_ms=3)


def test_success_stores_output_and_metrics(app, submit):
    prediction_id = submit()
    upstream = FakeUpstream(OUTPUT)
    assert run(app, prediction_id, upstream) == "succeeded"
    prediction = stored(app, prediction_id)
    assert prediction.status == "succeeded"
    assert prediction.output == {"predictions": OUTPUT["predictions"]}
    assert (prediction.attempts, prediction.runs, prediction.upstream_ms) == (1, 1, 7)


@pytest.mark.parametrize("code", [UpstreamErrorCode.SERVER_ERROR, UpstreamErrorCode.TIMEOUT,
                                  UpstreamErrorCode.CONNECTION, UpstreamErrorCode.RATE_LIMITED])
def test_transient_failures_are_retried(app, submit, code):
    prediction_id = submit()
    upstream = FakeUpstream(transient(code), OUTPUT)
    assert run(app, prediction_id, upstream) == "succeeded"
    prediction = stored(app, prediction_id)
    assert (prediction.attempts, prediction.upstream_ms) == (2, 10)


def test_persistent_transient_failures_fail_after_the_attempt_limit(app, submit):
    prediction_id = submit()
    upstream = FakeUpstream(transient(), transient(), transient(), OUTPUT)
    assert run(app, prediction_id, upstream) == "failed"
    prediction = stored(app, prediction_id)
    assert (prediction.status, prediction.error_code, prediction.attempts) == ("failed", "upstream_error", 3)
    assert prediction.output is None


def test_a_rejection_fails_at_once_with_the_upstreams_message(app, submit):
    prediction_id = submit()
    rejection = UpstreamError(UpstreamErrorCode.REJECTED, "The upstream rejected the request: bad history")
    assert run(app, prediction_id, FakeUpstream(rejection)) == "failed"
    prediction = stored(app, prediction_id)
    assert prediction.error_code == "upstream_rejected"
    assert prediction.error_message.endswith("bad history")
    assert prediction.attempts == 1


def test_an_invalid_upstream_body_is_not_stored(app, submit):
    prediction_id = submit()
    assert run(app, prediction_id, FakeUpstream({"predictions": "nonsense"})) == "failed"
    prediction = stored(app, prediction_id)
    assert (prediction.error_code, prediction.output, prediction.upstream_ms) == ("upstream_bad_response", None, 7)


@pytest.fixture
def submit_as(client, accounts) -> Callable[[], Callable[[], str]]:
    """A submitter per new account."""
    return lambda: submitter(client, accounts.create()[1])


def open_the_circuit(app: Flask, submit_as) -> None:
    """Failures from two accounts: the upstream is failing for everyone."""
    assert run(app, submit_as()(), FakeUpstream(transient(), transient(), transient())) == "failed"
    # The second account's first failure opens it; its own retry is then held back.
    assert run(app, submit_as()(), FakeUpstream(transient(), transient(), transient())) == "held"
    with app.app_context():
        assert get_redis().exists(redis_key("circuit", "open"))
        registry = ScheduledJobRegistry(queue=get_queue())
        for job_id in registry.get_job_ids():
            registry.remove(job_id)


def test_one_accounts_failures_do_not_open_the_circuit_for_others(app, submit_as):
    alone = submit_as()
    for _ in range(2):
        assert run(app, alone(), FakeUpstream(*[transient(UpstreamErrorCode.TIMEOUT)] * 3)) == "failed"
    upstream = FakeUpstream(OUTPUT)
    assert run(app, submit_as()(), upstream) == "succeeded"
    assert upstream.calls == 1


def test_an_open_circuit_holds_predictions_back_without_calling_upstream(app, submit_as):
    open_the_circuit(app, submit_as)
    prediction_id = submit_as()()
    upstream = FakeUpstream(OUTPUT)
    assert run(app, prediction_id, upstream) == "held"
    assert upstream.calls == 0
    prediction = stored(app, prediction_id)
    assert (prediction.status, prediction.runs, prediction.attempts, prediction.error_code) == ("queued", 0, 0, None)
    with app.app_context():
        scheduled = ScheduledJobRegistry(queue=get_queue()).get_job_ids()
        assert len(scheduled) == 1 and scheduled[0].startswith(f"{prediction_id}-held-")
        assert reconcile._alive_ids([prediction_id]) == {prediction_id}  # the reconciler leaves it alone


def test_a_held_job_is_moved_to_the_queue_when_due_and_then_succeeds(app, submit_as, monkeypatch):
    open_the_circuit(app, submit_as)
    prediction_id = submit_as()()
    monkeypatch.setattr(holding, "_delay_seconds", lambda: 0.0)
    assert run(app, prediction_id, FakeUpstream(OUTPUT)) == "held"
    with app.app_context():
        get_redis().delete(redis_key("circuit", "open"), redis_key("circuit", "failures"))
        time.sleep(0.05)
        holding.enqueue_due_held_jobs()
        assert any(job_id.startswith(f"{prediction_id}-held-") for job_id in get_queue().job_ids)
    assert run(app, prediction_id, FakeUpstream(OUTPUT)) == "succeeded"


def test_an_open_circuit_fails_a_prediction_past_its_hold_window(app, submit_as):
    open_the_circuit(app, submit_as)
    prediction_id = submit_as()()
    with app.app_context():
        db.session.query(Prediction).filter_by(id=prediction_id).update(
            {"created_at": utcnow() - timedelta(seconds=app.config["CIRCUIT_HOLD_SECONDS"])})
        db.session.commit()
    assert run(app, prediction_id, FakeUpstream(OUTPUT)) == "failed"
    prediction = stored(app, prediction_id)
    assert (prediction.error_code, prediction.attempts) == ("upstream_circuit_open", 0)


def test_a_second_delivery_of_a_finished_job_changes_nothing(app, submit):
    prediction_id = submit()
    assert run(app, prediction_id, FakeUpstream(OUTPUT)) == "succeeded"
    before = stored(app, prediction_id)
    again = FakeUpstream({"predictions": [[]]})
    assert run(app, prediction_id, again) == "skipped"
    after = stored(app, prediction_id)
    assert again.calls == 0
    assert (after.output, after.completed_at, after.runs) == (before.output, before.completed_at, 1)


def test_a_delivery_while_another_run_holds_the_lease_is_skipped(app, submit):
    prediction_id = submit()
    upstream = FakeUpstream(OUTPUT)
    with app.app_context(), leases.hold(prediction_id) as is_ours:
        assert is_ours
        assert run_prediction(prediction_id, upstream) == "skipped"
    assert upstream.calls == 0
    assert stored(app, prediction_id).status == "queued"


def test_a_duplicate_runs_late_result_cannot_overwrite_the_first_result(app, submit):
    prediction_id = submit()
    winner = {"predictions": [[{"code": "I10", "system": "ICD10CM", "display": "Hypertension"}]]}

    def other_run_finishes_first() -> dict:
        assert predictions.mark_succeeded(prediction_id, winner, 1)
        return OUTPUT

    assert run(app, prediction_id, FakeUpstream(other_run_finishes_first)) == "discarded"
    assert stored(app, prediction_id).output == winner


def test_terminal_states_are_final(app, submit):
    prediction_id = submit()
    run(app, prediction_id, FakeUpstream(OUTPUT))
    with app.app_context():
        assert not predictions.mark_running(prediction_id)
        assert not predictions.mark_failed(prediction_id, "upstream_error", "late")
        assert not predictions.mark_succeeded(prediction_id, {"predictions": []}, 1)
        assert not predictions.record_attempt(prediction_id)
    prediction = stored(app, prediction_id)
    assert (prediction.status, prediction.error_code, prediction.attempts) == ("succeeded", None, 1)


def test_a_result_arriving_after_cancel_is_discarded(app, submit):
    prediction_id = submit()
    owner_id = stored(app, prediction_id).user_id

    def canceled_meanwhile() -> dict:
        predictions.cancel_prediction(db.session.get(User, owner_id), prediction_id)
        return OUTPUT

    assert run(app, prediction_id, FakeUpstream(canceled_meanwhile)) == "discarded"
    prediction = stored(app, prediction_id)
    assert (prediction.status, prediction.output) == ("canceled", None)


def test_cancel_during_retries_stops_further_calls(app, submit):
    prediction_id = submit()
    owner_id = stored(app, prediction_id).user_id

    def fail_and_cancel() -> UpstreamError:
        predictions.cancel_prediction(db.session.get(User, owner_id), prediction_id)
        return transient()

    upstream = FakeUpstream(fail_and_cancel, OUTPUT)
    assert run(app, prediction_id, upstream) == "discarded"
    assert upstream.calls == 1
    assert stored(app, prediction_id).status == "canceled"


def test_the_lease_is_released_after_a_run_and_after_a_crash(app, submit):
    done, crashed = submit(), submit()
    run(app, done, FakeUpstream(OUTPUT))

    def boom() -> dict:
        raise RuntimeError("unexpected")

    with pytest.raises(RuntimeError):
        run(app, crashed, FakeUpstream(boom))
    with app.app_context():
        assert not get_redis().exists(leases.lease_key(done), leases.lease_key(crashed))
    assert stored(app, crashed).status == "running"  # left for the reconciler


def test_finishing_announces_it_to_waiters(app, submit):
    prediction_id = submit()
    run(app, prediction_id, FakeUpstream(OUTPUT))
    with app.app_context():
        assert get_redis().llen(redis_key("finished", prediction_id)) == 1
        assert 0 < get_redis().ttl(redis_key("finished", prediction_id)) <= 130


def test_the_breaker_is_namespaced_per_deployment(app):
    with app.app_context():
        assert circuit_breaker().open_key.startswith(redis_key("circuit"))
        assert app.config["QUEUE_NAME"] in circuit_breaker().open_key


def test_cancel_takes_a_queued_job_off_the_queue(app, submit):
    prediction_id = submit()
    owner_id = stored(app, prediction_id).user_id
    with app.app_context():
        assert get_queue().job_ids == [prediction_id]
        predictions.cancel_prediction(db.session.get(User, owner_id), prediction_id)
        assert get_queue().job_ids == []
    upstream = FakeUpstream(OUTPUT)
    assert run(app, prediction_id, upstream) == "skipped"  # a copy delivered anyway changes nothing
    assert upstream.calls == 0 and stored(app, prediction_id).status == "canceled"
