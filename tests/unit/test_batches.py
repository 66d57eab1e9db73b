"""POST /v1/batches and GET /v1/batches/{id}: all-or-nothing validation, limits counted per item, owner only."""

from __future__ import annotations

import pytest
from flask import Flask

from proxyapp.extensions import db
from proxyapp.models import Batch, Prediction
from proxyapp.queue import get_queue
from proxyapp.services.predictions.run import run_prediction
from proxyapp.services.upstream.client import UpstreamResult
from tests.conftest import CANONICAL_BODY, bearer

BAD_ITEM = {**CANONICAL_BODY, "num_predictions": 0}


class InstantUpstream:
    def predict(self, body, *, within=None) -> UpstreamResult:
        return UpstreamResult(body={"predictions": [[]]}, elapsed_ms=1)


def items(count: int) -> list[dict]:
    return [{**CANONICAL_BODY, "num_predictions": 1 + index % 10} for index in range(count)]


def submit_batch(client, key, predictions, **headers):
    return client.post("/v1/batches", json={"predictions": predictions}, headers={**bearer(key), **headers})


def stored_counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return db.session.query(Batch).count(), db.session.query(Prediction).count()


def test_a_batch_is_accepted_queued_and_listed_in_order(app, client, accounts):
    _, key = accounts.create()
    response = submit_batch(client, key, items(3))
    assert response.status_code == 202, response.get_json()
    batch = response.get_json()
    assert batch["counts"]["queued"] == 3 and batch["counts"]["succeeded"] == 0
    assert len(batch["predictions"]) == 3 and batch["predictions"] == sorted(batch["predictions"])
    assert response.headers["Location"] == batch["urls"]["get"]
    with app.app_context():
        assert get_queue().count == 3
    inputs = [client.get(f"/v1/predictions/{pid}", headers=bearer(key)).get_json() for pid in batch["predictions"]]
    assert [p["input"]["num_predictions"] for p in inputs] == [1, 2, 3]  # submission order
    assert {p["batch_id"] for p in inputs} == {batch["id"]}


def test_get_aggregates_status_counts(app, client, accounts):
    _, key = accounts.create()
    batch = submit_batch(client, key, items(3)).get_json()
    with app.app_context():
        run_prediction(batch["predictions"][0], InstantUpstream())
    client.post(f"/v1/predictions/{batch['predictions'][1]}/cancel", headers=bearer(key))
    response = client.get(f"/v1/batches/{batch['id']}", headers=bearer(key))
    assert response.status_code == 200
    body = response.get_json()
    assert {k: v for k, v in body["counts"].items() if v} == {"succeeded": 1, "canceled": 1, "queued": 1}
    assert [item["status"] for item in body["items"]] == ["succeeded", "canceled", "queued"]


def test_any_invalid_item_rejects_the_whole_batch_with_its_index(app, client, accounts):
    _, key = accounts.create()
    predictions = items(5)
    predictions[1] = BAD_ITEM
    predictions[3] = {"history": []}
    response = submit_batch(client, key, predictions)
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]["predictions"]
    assert set(details) == {"1", "3"}
    assert "num_predictions" in details["1"] and "history" in details["3"]
    assert stored_counts(app) == (0, 0)


@pytest.mark.parametrize("predictions", [[], items(101), "nope"])
def test_batch_size_is_1_to_100(app, client, accounts, predictions):
    _, key = accounts.create()
    response = submit_batch(client, key, predictions)
    assert response.status_code == 422
    assert "predictions" in response.get_json()["error"]["details"]
    assert stored_counts(app) == (0, 0)


def test_someone_elses_or_unknown_batch_is_404(client, accounts):
    _, alice = accounts.create()
    _, bob = accounts.create()
    batch = submit_batch(client, alice, items(1)).get_json()
    assert client.get(f"/v1/batches/{batch['id']}", headers=bearer(bob)).status_code == 404
    assert client.get("/v1/batches/01M8D6SVCC7F5QJK3907250KVY", headers=bearer(alice)).status_code == 404


class TestLimits:
    @pytest.fixture
    def app_env(self, app_env):
        app_env.update({"RATE_LIMIT": "5/minute", "MAX_PENDING": "4"})
        return app_env

    def test_a_batch_costs_one_submission_per_item(self, client, accounts):
        _, key = accounts.create()
        first = submit_batch(client, key, items(3))
        assert first.status_code == 202
        assert first.headers["X-RateLimit-Remaining"] == "2"
        second = submit_batch(client, key, items(3))
        assert second.status_code == 429
        assert second.get_json()["error"]["code"] == "rate_limited"
        assert client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).status_code == 202

    def test_a_batch_counts_against_max_pending(self, app, client, accounts):
        _, key = accounts.create()
        assert submit_batch(client, key, items(2)).status_code == 202
        response = submit_batch(client, key, items(3))
        assert response.status_code == 429
        assert response.get_json()["error"]["code"] == "too_many_pending"
        assert "Retry-After" in response.headers
        assert stored_counts(app) == (1, 2)

    def test_an_oversized_batch_costs_at_most_the_cap(self, client, accounts):
        _, key = accounts.create()
        assert submit_batch(client, key, items(101)).status_code == 429  # 100 > 5: refused before parsing

    def test_a_malformed_batch_costs_one(self, client, accounts):
        _, key = accounts.create()
        response = client.post("/v1/batches", data="{", content_type="application/json", headers=bearer(key))
        assert response.status_code == 400
        assert response.headers["X-RateLimit-Remaining"] == "4"
