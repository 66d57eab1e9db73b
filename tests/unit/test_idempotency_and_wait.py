"""Idempotency-Key and Prefer: wait on POST /v1/predictions, in-process against a real Redis."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from proxyapp.api.headers import requested_wait
from proxyapp.extensions import db
from proxyapp.models import Prediction
from proxyapp.queue import get_queue, get_redis
from proxyapp.services.predictions.run import run_prediction
from proxyapp.services.upstream.client import UpstreamResult
from tests.conftest import CANONICAL_BODY, bearer

OTHER_BODY = {**CANONICAL_BODY, "num_predictions": 2}


class InstantUpstream:
    def predict(self, body, *, within=None) -> UpstreamResult:
        return UpstreamResult(body={"predictions": [[]]}, elapsed_ms=1)


def submit(client, key, body=CANONICAL_BODY, **headers):
    return client.post("/v1/predictions", json=body, headers={**bearer(key), **headers})


def prediction_count(app: Flask) -> int:
    with app.app_context():
        return db.session.query(Prediction).count()


def test_same_key_and_body_return_the_original_without_a_second_job(app, client, accounts):
    _, key = accounts.create()
    first = submit(client, key, **{"Idempotency-Key": "order-42"})
    second = submit(client, key, **{"Idempotency-Key": "order-42"})
    assert first.status_code == second.status_code == 202
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert prediction_count(app) == 1
    with app.app_context():
        assert get_queue().count == 1


def test_same_key_with_another_body_is_422(client, accounts):
    _, key = accounts.create()
    submit(client, key, **{"Idempotency-Key": "k1"})
    response = submit(client, key, OTHER_BODY, **{"Idempotency-Key": "k1"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"
    assert "Idempotency-Key" in response.get_json()["error"]["details"]


def test_keys_are_per_account(client, accounts):
    _, alice = accounts.create()
    _, bob = accounts.create()
    ids = {submit(client, k, **{"Idempotency-Key": "same"}).get_json()["id"] for k in (alice, bob)}
    assert len(ids) == 2


def test_a_replay_of_a_finished_prediction_is_200_with_the_result(app, client, accounts):
    _, key = accounts.create()
    created = submit(client, key, **{"Idempotency-Key": "k2"}).get_json()
    with app.app_context():
        run_prediction(created["id"], InstantUpstream())
    replay = submit(client, key, **{"Idempotency-Key": "k2"})
    assert replay.status_code == 200
    assert replay.get_json()["status"] == "succeeded"
    assert "Retry-After" not in replay.headers


@pytest.mark.parametrize("value", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_unusable_keys_are_400(client, accounts, value):
    _, key = accounts.create()
    response = client.post("/v1/predictions", json=CANONICAL_BODY,
                           headers=[("Authorization", f"Bearer {key}"), ("Idempotency-Key", value)])
    assert response.status_code == 400


def test_concurrent_identical_requests_create_one_prediction(app, accounts):
    _, key = accounts.create()
    barrier = threading.Barrier(6)

    def one() -> tuple[int, str]:
        with app.test_client() as own_client:
            barrier.wait()
            response = submit(own_client, key, **{"Idempotency-Key": "race"})
            return response.status_code, response.get_json()["id"]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: one(), range(6)))
    assert {status for status, _ in results} == {202}
    assert len({pid for _, pid in results}) == 1
    assert prediction_count(app) == 1
    with app.app_context():
        assert get_queue().count == 1


def test_redis_holds_no_raw_key_and_no_patient_data(app, client, accounts):
    _, key = accounts.create()
    submit(client, key, **{"Idempotency-Key": "customer-secret-ref-123"})
    with app.app_context():
        redis = get_redis()
        names = [name.decode() for name in redis.scan_iter(match=f"proxyapp:{app.config['QUEUE_NAME']}:*")]
        values = [redis.get(name) or b"" for name in names if redis.type(name) == b"string"]
    blob = " ".join(names) + b" ".join(values).decode()
    assert names and "customer-secret-ref-123" not in blob
    assert "diabetes" not in blob.lower() and "E11" not in blob


def test_the_record_expires_after_the_configured_ttl(app, client, accounts):
    _, key = accounts.create()
    submit(client, key, **{"Idempotency-Key": "ttl"})
    with app.app_context():
        name = next(get_redis().scan_iter(match=f"proxyapp:{app.config['QUEUE_NAME']}:idempotency:*"))
        assert 24 * 3600 - 60 < get_redis().ttl(name) <= 24 * 3600


def test_prefer_wait_answers_200_once_finished(app, client, accounts):
    _, key = accounts.create()

    finished_at: list[float] = []

    def finish_once_queued() -> None:
        with app.app_context():
            while not get_queue().job_ids:
                time.sleep(0.05)
            time.sleep(0.3)  # the request is blocked by now
            run_prediction(get_queue().job_ids[0], InstantUpstream())
            finished_at.append(time.monotonic())

    worker = threading.Thread(target=finish_once_queued)
    worker.start()
    response = submit(client, key, Prefer="wait=10")
    answered_at = time.monotonic()
    worker.join()
    assert answered_at - finished_at[0] < 1
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "wait=10"
    assert response.get_json()["status"] == "succeeded"


def test_prefer_wait_answers_202_when_time_is_up(client, accounts):
    _, key = accounts.create()
    started = time.monotonic()
    response = submit(client, key, Prefer="respond-async, wait=1")
    assert 0.9 <= time.monotonic() - started < 3
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "wait=1"
    assert response.get_json()["status"] == "queued"


@pytest.mark.parametrize(("header", "expected"), [
    ("wait=5", 5), ("WAIT = 7", 7), ("respond-async, wait=3", 3), ("wait=600", 60), ("wait=0", 0),
    ("wait=abc", None), ("handling=lenient", None), ("wait=-1", None), (None, None),
])
def test_prefer_wait_parsing(app, header, expected):
    headers = {"Prefer": header} if header else {}
    with app.test_request_context("/v1/predictions", method="POST", headers=headers):
        assert requested_wait() == expected
