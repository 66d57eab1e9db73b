"""Prediction endpoints: thin views over the predictions service."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from proxyapp.api.auth import current_account, current_api_key
from proxyapp.api.headers import accepted_cache_age, idempotency_key, requested_wait
from proxyapp.api.parsing import load_json_body, load_query
from proxyapp.links import public_url_for
from proxyapp.models import PredictionKind
from proxyapp.schemas import (
    EmbeddingSubmissionSchema,
    PredictionListQuerySchema,
    PredictionPageSchema,
    PredictionSchema,
    PredictionSubmissionSchema,
    shared,
)
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.predictions import listing
from proxyapp.services.predictions.waiting import wait_slots
from proxyapp.services.webhooks.events import take_target

POLL_AFTER_SECONDS = 1


def _request_schema() -> PredictionSubmissionSchema:
    config = current_app.config
    return shared(PredictionSubmissionSchema, max_history=config["MAX_HISTORY"], strict_codes=config["STRICT_CODES"])


def create_prediction() -> tuple[Response, int, dict[str, str]]:
    """Validate, store and enqueue a prediction; 202 with where to poll, 200 once it is finished.

    `Prefer: wait=N` holds the request (and its web thread) until the prediction finishes
    or N seconds pass; a repeated `Idempotency-Key` answers with the original prediction;
    `Cache-Control: max-age=N` accepts the result of an identical request at most N seconds
    old from the result cache (200, `cached: true`); otherwise every prediction is a new sample.
    `webhook` (with `webhook_events_filter`) asks for signed events, delivered by the workers.
    """
    return _submit(load_json_body(_request_schema()), PredictionKind.PREDICTION)


def create_embedding() -> tuple[Response, int, dict[str, str]]:
    """Like create_prediction, for the upstream's /embeddings: the body is a history only."""
    config = current_app.config
    schema = shared(EmbeddingSubmissionSchema, max_history=config["MAX_HISTORY"], strict_codes=config["STRICT_CODES"])
    return _submit(load_json_body(schema), PredictionKind.EMBEDDING)


def _submit(payload: dict, kind: PredictionKind) -> tuple[Response, int, dict[str, str]]:
    webhook = take_target(payload)
    prediction, created = predictions.create_prediction(
        current_api_key(), payload, idempotency_key(), kind=kind.value, cache_max_age=accepted_cache_age(kind),
        webhook=webhook,
    )
    headers = {"Location": public_url_for("api.get_prediction", prediction_id=prediction.id)}
    wait = requested_wait()
    if wait is not None and not prediction.state.is_terminal:
        with wait_slots().claim(prediction.user_id) as granted:
            if granted:  # else answered at once: waits may hold only a share of the web threads
                prediction = predictions.wait_for_finish(prediction, wait)
                headers["Preference-Applied"] = f"wait={wait}"
    elif wait is not None:
        headers["Preference-Applied"] = f"wait={wait}"
    if not created:
        headers["Idempotent-Replayed"] = "true"
    if prediction.state.is_terminal:
        return jsonify(shared(PredictionSchema).dump(prediction)), 200, headers
    headers["Retry-After"] = str(POLL_AFTER_SECONDS)
    return jsonify(shared(PredictionSchema).dump(prediction)), 202, headers


def get_prediction(prediction_id: str) -> Response:
    """The caller's prediction, or 404."""
    prediction = predictions.get_owned_prediction(current_account(), prediction_id)
    return jsonify(shared(PredictionSchema).dump(prediction))


def cancel_prediction(prediction_id: str) -> Response:
    """Cancel the caller's queued or running prediction."""
    prediction = predictions.cancel_prediction(current_account(), prediction_id)
    return jsonify(shared(PredictionSchema).dump(prediction))


def list_predictions() -> Response:
    """The caller's predictions, newest first: `?status=`, `?limit=` (≤100), `?cursor=`."""
    query = load_query(shared(PredictionListQuerySchema))
    page = listing.list_predictions(current_account(), **query)
    return jsonify(shared(PredictionPageSchema).dump(page))
