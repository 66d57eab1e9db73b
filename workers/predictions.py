"""The prediction job: call the upstream and store the output or a classified error."""

from __future__ import annotations

import logging

from proxyapp.services import predictions
from proxyapp.services.upstream import UpstreamError
from workers.context import get_app, get_upstream

log = logging.getLogger(__name__)


def run(prediction_id: str) -> str:
    """Run one prediction to a terminal state; unexpected exceptions propagate to RQ."""
    with get_app().app_context():
        return execute(prediction_id)


def execute(prediction_id: str) -> str:
    """The job body inside an app context; returns the resulting status."""
    if not predictions.mark_running(prediction_id):
        log.info("prediction already finished or gone; nothing to do", extra={"prediction_id": prediction_id})
        return "skipped"
    body = predictions.load_input(prediction_id)
    predictions.record_attempt(prediction_id)
    try:
        result = get_upstream().predict(body)
        output = predictions.validated_output(result.body)
    except UpstreamError as error:
        predictions.mark_failed(prediction_id, error.code.value, error.message, error.elapsed_ms)
        return "failed"
    stored = predictions.mark_succeeded(prediction_id, output, result.elapsed_ms)
    return "succeeded" if stored else "discarded"
