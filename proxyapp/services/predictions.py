"""Predictions: create and enqueue, look up for an owner, and move through the state machine.

Every state change is one conditional UPDATE (`… WHERE status IN (allowed)`), so two
runs of the same job (RQ delivers at least once) can never overwrite a terminal result.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from marshmallow import EXCLUDE, ValidationError
from redis.exceptions import RedisError
from sqlalchemy import select, update

from proxyapp.errors import APIError
from proxyapp.extensions import db
from proxyapp.models import ApiKey, Prediction, PredictionStatus, User, utcnow
from proxyapp.queue import PREDICTION_JOB, get_queue
from proxyapp.schemas import UpstreamPredictResponseSchema
from proxyapp.services.upstream import UpstreamError, UpstreamErrorCode

log = logging.getLogger(__name__)
QUEUE_DOWN_RETRY_AFTER = 5


def create_prediction(api_key: ApiKey, payload: dict[str, Any]) -> Prediction:
    """Store a validated request and enqueue it; 503 (and no row left) if Redis is down."""
    prediction = Prediction(user_id=api_key.user_id, api_key_id=api_key.id, input=payload)
    db.session.add(prediction)
    db.session.commit()
    try:
        enqueue_prediction(prediction.id)
    except RedisError:
        log.warning("queue unavailable; prediction not accepted", extra={"prediction_id": prediction.id})
        db.session.delete(prediction)
        db.session.commit()
        raise APIError(
            503,
            "The job queue is unavailable; nothing was stored. Retry later.",
            headers={"Retry-After": str(QUEUE_DOWN_RETRY_AFTER)},
        ) from None
    return prediction


def enqueue_prediction(prediction_id: str) -> None:
    """Put the prediction's job on the queue, addressed by dotted path and keyed by its id."""
    config = current_app.config
    get_queue().enqueue(
        PREDICTION_JOB,
        prediction_id,
        job_id=prediction_id,
        job_timeout=config["JOB_TIMEOUT"],
        result_ttl=0,
        failure_ttl=7 * 24 * 3600,
        description=f"prediction {prediction_id}",
    )


def get_owned_prediction(user: User, prediction_id: str) -> Prediction:
    """The user's prediction; 404 both when missing and when owned by someone else."""
    prediction = db.session.scalar(
        select(Prediction).where(Prediction.id == prediction_id, Prediction.user_id == user.id)
    )
    if prediction is None:
        raise APIError(404, "No prediction with this id.")
    return prediction


def _transition(prediction_id: str, allowed: set[PredictionStatus], **values: Any) -> bool:
    """Apply values if the prediction is in an allowed state; True if it was."""
    result = db.session.execute(
        update(Prediction)
        .where(Prediction.id == prediction_id, Prediction.status.in_([s.value for s in allowed]))
        .values(**values)
    )
    db.session.commit()
    return result.rowcount == 1


def mark_running(prediction_id: str) -> bool:
    """queued/running → running; False if the prediction is already terminal or gone."""
    return _transition(
        prediction_id,
        {PredictionStatus.QUEUED, PredictionStatus.RUNNING},
        status=PredictionStatus.RUNNING.value,
        started_at=utcnow(),
    )


def record_attempt(prediction_id: str) -> None:
    """Count one upstream call for this prediction."""
    db.session.execute(
        update(Prediction).where(Prediction.id == prediction_id).values(attempts=Prediction.attempts + 1)
    )
    db.session.commit()


def mark_succeeded(prediction_id: str, output: dict[str, Any], upstream_ms: int) -> bool:
    """running → succeeded with the output; False if it was canceled or finished meanwhile."""
    return _transition(
        prediction_id,
        {PredictionStatus.RUNNING},
        status=PredictionStatus.SUCCEEDED.value,
        output=output,
        upstream_ms=upstream_ms,
        completed_at=utcnow(),
    )


def mark_failed(prediction_id: str, code: str, message: str, upstream_ms: int | None = None) -> bool:
    """queued/running → failed with a classified error; False if already terminal."""
    return _transition(
        prediction_id,
        {PredictionStatus.QUEUED, PredictionStatus.RUNNING},
        status=PredictionStatus.FAILED.value,
        error_code=code,
        error_message=message[:1024],
        upstream_ms=upstream_ms,
        completed_at=utcnow(),
    )


def load_input(prediction_id: str) -> dict[str, Any]:
    """The stored request body of a prediction, exactly as it goes upstream."""
    return db.session.scalar(select(Prediction.input).where(Prediction.id == prediction_id))


def validated_output(body: dict[str, Any]) -> dict[str, Any]:
    """The part of an upstream answer we store, checked against the response schema."""
    try:
        loaded = UpstreamPredictResponseSchema().load(body, unknown=EXCLUDE)
    except ValidationError:
        raise UpstreamError(UpstreamErrorCode.BAD_RESPONSE, "The upstream answered with an unexpected body.") from None
    return {"predictions": loaded["predictions"]}


def cancel_prediction(user: User, prediction_id: str) -> Prediction:
    """Cancel a queued or running prediction; 409 if it already finished."""
    prediction = get_owned_prediction(user, prediction_id)
    canceled = _transition(
        prediction_id,
        {PredictionStatus.QUEUED, PredictionStatus.RUNNING},
        status=PredictionStatus.CANCELED.value,
        completed_at=utcnow(),
    )
    if not canceled:
        raise APIError(409, f"The prediction already finished with status '{prediction.status}'.")
    _drop_queued_job(prediction_id)
    db.session.refresh(prediction)
    return prediction


def _drop_queued_job(prediction_id: str) -> None:
    """Take the job off the queue if it is still there; a worker skips it anyway if not."""
    queue = get_queue()
    try:
        job = queue.fetch_job(prediction_id)
        if job is not None and job.is_queued:
            job.cancel()
    except RedisError:
        log.warning("could not remove a canceled job from the queue", extra={"prediction_id": prediction_id})
