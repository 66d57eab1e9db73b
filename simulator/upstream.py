"""The simulated upstream endpoints: POST /predict and POST /embeddings."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request

from simulator.auth import check_key
from simulator.faults import Outcome, fault_response
from simulator.generator import embed, generate_predictions
from simulator.state import current_state
from simulator.validation import body_digest, canonical_digest, json_object, parse_history, parse_predict

bp = Blueprint("upstream", __name__)


@bp.before_request
def simulate_conditions() -> Response | None:
    """Count the call, check the key, wait out the latency and inject any fault due."""
    state = current_state()
    state.record_call(request.endpoint.rpartition(".")[2], body_digest(request.get_data()))
    check_key()
    outcome = state.next_outcome()
    time.sleep(state.delay_seconds())
    return None if outcome is Outcome.OK else fault_response(outcome, state.settings)


@bp.after_request
def count_status(response: Response) -> Response:
    """Count the status each call was answered with, faults and errors included."""
    current_state().record_status(response.status_code)
    return response


@bp.post("/predict")
def predict() -> dict[str, Any]:
    """Answer a prediction request with futures seeded by its body."""
    payload = json_object()
    checked = parse_predict(payload)
    predictions = generate_predictions(checked, canonical_digest(payload))
    return {"history": checked.history, "predictions": predictions}


@bp.post("/embeddings")
def embeddings() -> dict[str, Any]:
    """Answer an embedding request with a unit vector determined by the history."""
    return {"embedding": embed(parse_history(json_object()))}
