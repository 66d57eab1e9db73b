"""POST /v1/embeddings: the same queue, state machine and headers as predictions, kind `embedding`."""

from __future__ import annotations

import pytest

from proxyapp.services.predictions.run import run_prediction
from proxyapp.services.upstream.client import UpstreamResult
from tests.conftest import CANONICAL_BODY, bearer

HISTORY = {"history": CANONICAL_BODY["history"]}


class EmbeddingUpstream:
    """Answers embed() with a fixed body; predict() must not be called for embeddings."""

    def __init__(self, body: dict) -> None:
        self.body = body
        self.embed_calls = 0

    def embed(self, body, *, within=None) -> UpstreamResult:
        assert body == HISTORY
        self.embed_calls += 1
        return UpstreamResult(body=self.body, elapsed_ms=3)

    def predict(self, body, *, within=None) -> UpstreamResult:
        raise AssertionError("an embedding was sent to /predict")


def submit(client, key, body=HISTORY, **headers):
    return client.post("/v1/embeddings", json=body, headers={**bearer(key), **headers})


def test_an_embedding_is_accepted_with_kind(client, accounts):
    _, key = accounts.create()
    response = submit(client, key)
    assert response.status_code == 202
    body = response.get_json()
    assert body["kind"] == "embedding" and body["status"] == "queued" and body["cached"] is False
    assert body["input"] == HISTORY
    assert response.headers["Location"].endswith(f"/v1/predictions/{body['id']}")


def test_predictions_carry_kind_prediction(client, accounts):
    _, key = accounts.create()
    body = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()
    assert body["kind"] == "prediction"


def test_the_job_calls_embed_and_stores_the_vector(app, client, accounts):
    _, key = accounts.create()
    prediction_id = submit(client, key).get_json()["id"]
    upstream = EmbeddingUpstream({"embedding": [0.5, -1, 2.25], "model": "ignored"})
    with app.app_context():
        assert run_prediction(prediction_id, upstream) == "succeeded"
    body = client.get(f"/v1/predictions/{prediction_id}", headers=bearer(key)).get_json()
    assert body["status"] == "succeeded"
    assert body["output"] == {"embedding": [0.5, -1.0, 2.25]}
    assert body["metrics"]["attempts"] == upstream.embed_calls == 1
    cached = submit(client, key)
    assert cached.status_code == 200 and cached.get_json()["cached"] is True
    assert cached.get_json()["output"] == body["output"]


@pytest.mark.parametrize("answer", [
    {"embedding": ["0.5"]}, {"embedding": [True]}, {"embedding": []}, {"embedding": [[1.0]]},
    {"embedding": [0.0] * 16385}, {"vector": [1.0]},
])
def test_an_unexpected_embedding_fails_as_a_bad_response(app, client, accounts, answer):
    _, key = accounts.create()
    prediction_id = submit(client, key).get_json()["id"]
    with app.app_context():
        assert run_prediction(prediction_id, EmbeddingUpstream(answer)) == "failed"
    body = client.get(f"/v1/predictions/{prediction_id}", headers=bearer(key)).get_json()
    assert body["error"]["code"] == "upstream_bad_response" and body["output"] is None


@pytest.mark.parametrize("body", [
    {"history": []}, {**HISTORY, "num_predictions": 1}, {}, {"history": [{"code": "64", "system": "age"}]},
])
def test_invalid_bodies_are_422(client, accounts, body):
    _, key = accounts.create()
    response = submit(client, key, body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"


def test_idempotency_key_returns_the_original_embedding(client, accounts):
    _, key = accounts.create()
    first = submit(client, key, **{"Idempotency-Key": "emb-1"})
    second = submit(client, key, **{"Idempotency-Key": "emb-1"})
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"


def test_prefer_wait_times_out_with_202(client, accounts):
    _, key = accounts.create()
    submit(client, key)  # queued, nothing runs it: the wait times out
    response = submit(client, key, **{"Prefer": "wait=1", "Cache-Control": "no-cache"})
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "wait=1"
