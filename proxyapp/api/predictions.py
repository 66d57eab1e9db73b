"""Prediction endpoints: thin views over the predictions service."""

from __future__ import annotations

from flask import Response, current_app, jsonify, url_for

from proxyapp.api.auth import current_account, current_api_key
from proxyapp.api.parsing import load_json_body
from proxyapp.schemas import PredictionRequestSchema, PredictionSchema
from proxyapp.services import predictions

POLL_AFTER_SECONDS = 1


def _request_schema() -> PredictionRequestSchema:
    config = current_app.config
    return PredictionRequestSchema(max_history=config["MAX_HISTORY"], strict_codes=config["STRICT_CODES"])


def create_prediction() -> tuple[Response, int, dict[str, str]]:
    """Validate, store and enqueue a prediction; 202 with where to poll."""
    payload = load_json_body(_request_schema())
    prediction = predictions.create_prediction(current_api_key(), payload)
    headers = {
        "Location": url_for("api.get_prediction", prediction_id=prediction.id, _external=True),
        "Retry-After": str(POLL_AFTER_SECONDS),
    }
    return jsonify(PredictionSchema().dump(prediction)), 202, headers


def get_prediction(prediction_id: str) -> Response:
    """The caller's prediction, or 404."""
    prediction = predictions.get_owned_prediction(current_account(), prediction_id)
    return jsonify(PredictionSchema().dump(prediction))


def cancel_prediction(prediction_id: str) -> Response:
    """Cancel the caller's queued or running prediction."""
    prediction = predictions.cancel_prediction(current_account(), prediction_id)
    return jsonify(PredictionSchema().dump(prediction))
