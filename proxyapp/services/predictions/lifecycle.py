"""Predictions: create and enqueue, look up for an owner, and move through the state machine.

Every state change is one conditional UPDATE (`… WHERE status IN (allowed)`), so two
runs of the same job (RQ delivers at least once) can never overwrite a terminal result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app
from marshmallow import EXCLUDE, ValidationError
from redis.exceptions import RedisError
from sqlalchemy import func, literal, select, update
from sqlalchemy.engine import Row

from proxyapp.database import begin_write, end_reads
from proxyapp.errors import Conflict, NotFound, Unavailable
from proxyapp.extensions import db
from proxyapp.logs import current_request_id
from proxyapp.metrics.shared import record_finished
from proxyapp.models import (
    ApiKey,
    Prediction,
    PredictionKind,
    PredictionStatus,
    User,
    UTCDateTime,
    new_prediction_id,
    utcnow,
)
from proxyapp.queue import PREDICTION_JOB, get_queue
from proxyapp.schemas import UpstreamEmbeddingResponseSchema, UpstreamPredictResponseSchema, shared
from proxyapp.services.limits.usage import ensure_pending_capacity
from proxyapp.services.predictions import idempotency, notify
from proxyapp.services.predictions import result_cache as cache
from proxyapp.services.upstream.client import UpstreamError, UpstreamErrorCode
from proxyapp.services.webhooks.emit import after_transition, prediction_event
from proxyapp.services.webhooks.events import WebhookEvent, WebhookTarget, wants

log = logging.getLogger(__name__)
QUEUE_DOWN_RETRY_AFTER = 5
FAILED_JOB_TTL = 7 * 24 * 3600  # a failed job (an unexpected exception) stays in RQ's failed registry a week


def create_prediction(api_key: ApiKey, payload: dict[str, Any], idempotency_key: str | None = None, *,
                      kind: str = PredictionKind.PREDICTION.value, cache_max_age: int | None = None,
                      webhook: WebhookTarget | None = None) -> tuple[Prediction, bool]:
    """Store a validated request and enqueue it; returns the prediction and whether it is new.

    A repeated idempotency key with the same body returns the original prediction instead
    (422 with another body). A result-cache hit is stored already succeeded and never
    queued. 503, and no row left, if Redis is down.
    """
    if idempotency_key:
        # A Redis failure here stores nothing and becomes a 503 in the error handlers.
        original = _original_prediction(api_key, idempotency_key, payload)
        if original is not None:
            return original, False
    prediction = new_prediction(api_key, payload, kind=kind, cache_max_age=cache_max_age, webhook=webhook)
    # Ids are kept in locals: reading an expired attribute would open a transaction (on
    # SQLite a write lock) for as long as the Redis calls below take.
    prediction_id, user_id, is_cached = prediction.id, api_key.user_id, bool(prediction.cached)
    begin_write()  # the key lookup's snapshot ends here; the count and insert run under the write lock
    if not is_cached:
        ensure_pending_capacity(api_key.user)
    db.session.add(prediction)
    db.session.commit()
    try:
        # Recorded only after the commit, so a key in Redis always names a stored prediction.
        if idempotency_key and not idempotency.record(user_id, idempotency_key, payload, prediction_id):
            return _keep_concurrent_original(prediction, api_key, idempotency_key, payload), False
        if not is_cached:
            enqueue_prediction(prediction_id)
    except RedisError:
        log.warning("queue unavailable; prediction not accepted", extra={"prediction_id": prediction_id})
        _discard(prediction)
        raise queue_unavailable() from None
    if is_cached and webhook is not None and wants(webhook.events, WebhookEvent.COMPLETED):
        prediction_event(prediction_id, WebhookEvent.COMPLETED)  # answered from the cache: completed already
    return prediction, True


def new_prediction(api_key: ApiKey, payload: dict[str, Any], *, kind: str, cache_max_age: int | None,
                   batch_id: str | None = None, webhook: WebhookTarget | None = None) -> Prediction:
    """An unsaved prediction of the key's account; already succeeded when the result cache answers it."""
    prediction = Prediction(id=new_prediction_id(), user_id=api_key.user_id, api_key_id=api_key.id,
                            kind=kind, batch_id=batch_id, input=payload, cached=False,
                            **(webhook.columns() if webhook else {}))
    output = cache.lookup(api_key.user_id, kind, payload, cache_max_age) if cache_max_age else None
    if output is not None:
        cache.mark_hit(prediction, output)
    return prediction


def queue_unavailable() -> Unavailable:
    """The 503 for a submission that could not be queued (nothing was stored)."""
    return Unavailable("The job queue is unavailable; nothing was stored. Retry later.",
                       headers={"Retry-After": str(QUEUE_DOWN_RETRY_AFTER)})


def _original_prediction(api_key: ApiKey, key: str, payload: dict[str, Any]) -> Prediction | None:
    """The prediction this idempotency key created for the account, if it still exists."""
    prediction_id = idempotency.recorded_prediction_id(api_key.user_id, key, payload)
    if prediction_id is None:
        return None
    end_reads()  # Redis named a row another request may have committed after our snapshot began
    original = db.session.get(Prediction, prediction_id)
    if original is None or original.user_id != api_key.user_id:
        idempotency.forget(api_key.user_id, key, prediction_id)  # its submission was undone (503)
        return None
    return original


def _keep_concurrent_original(mine: Prediction, api_key: ApiKey, key: str, payload: dict[str, Any]) -> Prediction:
    """Another request with the same key recorded its prediction first: drop ours, answer with theirs."""
    _discard(mine)
    original = _original_prediction(api_key, key, payload)
    if original is None:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
    return original


def _discard(prediction: Prediction) -> None:
    """Delete a prediction that was never accepted."""
    db.session.delete(prediction)
    db.session.commit()


def wait_for_finish(prediction: Prediction, seconds: float) -> Prediction:
    """Hold until the prediction is terminal or `seconds` pass; the prediction as stored then."""
    if not prediction.state.is_terminal:
        prediction_id = prediction.id
        end_reads()  # no connection or snapshot is held while waiting; the refresh reads the finished row
        notify.wait_until_announced(prediction_id, seconds)
        db.session.refresh(prediction)
    return prediction


def watch(prediction_id: str, seconds: float, poll_seconds: float = 1.0) -> Iterator[Prediction]:
    """Yield the prediction as stored now and after each look, until terminal, gone or `seconds` pass.

    A finish announcement wakes the watcher at once; other changes (queued → running) are
    seen by reading the row again every `poll_seconds`. No connection is held in between.
    """
    deadline = time.monotonic() + seconds
    while (prediction := db.session.get(Prediction, prediction_id, populate_existing=True)) is not None:
        yield prediction
        remaining = deadline - time.monotonic()
        if prediction.state.is_terminal or remaining <= 0:
            return
        pause = min(poll_seconds, remaining)
        end_reads()
        started = time.monotonic()
        if not notify.wait_until_announced(prediction_id, pause):
            time.sleep(max(0.0, pause - (time.monotonic() - started)))  # Redis down answers at once


def enqueue_prediction(prediction_id: str) -> None:
    """Put the prediction's job on the queue, addressed by dotted path and keyed by its id."""
    get_queue().enqueue(PREDICTION_JOB, prediction_id, job_id=prediction_id,
                        **job_options(f"prediction {prediction_id}"))


def job_options(description: str) -> dict[str, Any]:
    """RQ options of a prediction job: its timeout, how long RQ keeps it once ended, the submitting request.

    A finished job stays in RQ's finished registry for FINISHED_JOB_TTL seconds (rq-dashboard's
    "Finished" count); what RQ keeps is the job's id, its argument (the prediction id) and the
    one-word outcome it returns, never patient data. The request id lets the worker's log
    lines name the request that submitted the prediction.
    """
    config = current_app.config
    request_id = current_request_id()
    return {"job_timeout": config["JOB_TIMEOUT"], "result_ttl": config["FINISHED_JOB_TTL"],
            "failure_ttl": FAILED_JOB_TTL, "description": description,
            "meta": {"request_id": request_id} if request_id else None}


def get_owned_prediction(user: User, prediction_id: str) -> Prediction:
    """The user's prediction; 404 both when missing and when owned by someone else."""
    prediction = db.session.scalar(
        select(Prediction).where(Prediction.id == prediction_id, Prediction.user_id == user.id)
    )
    if prediction is None:
        raise NotFound("No prediction with this id.")
    return prediction


# Returned by every transition: whether (and where) the change is to be delivered to a webhook.
_TARGET_COLUMNS = (Prediction.webhook, Prediction.webhook_events, Prediction.batch_id, Prediction.runs)


# mark_running also hands back what the job sends upstream.
_REQUEST_COLUMNS = (Prediction.user_id, Prediction.kind, Prediction.input)


def _transition(prediction_id: str, allowed: set[PredictionStatus], also: tuple = (), **values: Any) -> Row | None:
    """Apply values if the prediction is in an allowed state; its webhook target columns (and `also`) if it was."""
    begin_write()
    target = db.session.execute(
        update(Prediction)
        .where(Prediction.id == prediction_id, Prediction.status.in_([s.value for s in allowed]))
        .values(**values)
        .returning(*_TARGET_COLUMNS, *also)
    ).first()
    db.session.commit()
    return target


def _finish(prediction_id: str, allowed: set[PredictionStatus], **values: Any) -> bool:
    """A transition into a terminal state; wakes the requests waiting for it and tells its webhook."""
    target = _transition(prediction_id, allowed, **values)
    if target is None:
        return False
    notify.announce_finished(prediction_id)
    record_finished(values["status"], values.get("error_code"))
    after_transition(prediction_id, target, WebhookEvent.COMPLETED)
    return True


def mark_running(prediction_id: str) -> JobRequest | None:
    """queued/running → running, counting the run: the request to send upstream; None if terminal or gone.

    The request comes back with the transition (RETURNING), so a job reads its row only once,
    and the run's first upstream call is counted with it, so a job writes twice, not three
    times: a run that makes no call after all (the circuit is open) takes it back with
    `uncount_attempt` (requeue_running, mark_failed). Later calls count with record_attempt.
    """
    target = _transition(
        prediction_id,
        {PredictionStatus.QUEUED, PredictionStatus.RUNNING},
        _REQUEST_COLUMNS,
        status=PredictionStatus.RUNNING.value,
        runs=Prediction.runs + 1,
        attempts=Prediction.attempts + 1,
        # A re-run keeps the first start, so queue_ms measures the wait the client saw.
        started_at=func.coalesce(Prediction.started_at, literal(utcnow(), UTCDateTime())),
    )
    if target is None:
        return None
    if target.runs == 1:  # re-runs do not start it again
        after_transition(prediction_id, target, WebhookEvent.START)
    return JobRequest(user_id=target.user_id, kind=target.kind, body=target.input)


def requeue_running(prediction_id: str, *, uncount_attempt: bool = False) -> bool:
    """running → queued, uncounting the run (it was held back before any upstream call); False if not running."""
    return _transition(prediction_id, {PredictionStatus.RUNNING}, status=PredictionStatus.QUEUED.value,
                       runs=Prediction.runs - 1, **_uncounted(uncount_attempt)) is not None


def _uncounted(uncount_attempt: bool) -> dict[str, Any]:
    """Take back the call mark_running counted, when the run made none."""
    return {"attempts": Prediction.attempts - 1} if uncount_attempt else {}


def record_attempt(prediction_id: str) -> bool:
    """Count one upstream call; False (nothing counted) if the prediction is no longer running."""
    return _transition(prediction_id, {PredictionStatus.RUNNING}, attempts=Prediction.attempts + 1) is not None


def mark_succeeded(prediction_id: str, output: dict[str, Any], upstream_ms: int) -> bool:
    """running → succeeded with the output; False if it was canceled or finished meanwhile."""
    return _finish(
        prediction_id,
        {PredictionStatus.RUNNING},
        status=PredictionStatus.SUCCEEDED.value,
        output=output,
        upstream_ms=upstream_ms,
        completed_at=utcnow(),
    )


def mark_failed(prediction_id: str, code: str, message: str, upstream_ms: int | None = None, *,
                uncount_attempt: bool = False) -> bool:
    """queued/running → failed with a classified error; False if already terminal."""
    return _finish(
        prediction_id,
        {PredictionStatus.QUEUED, PredictionStatus.RUNNING},
        status=PredictionStatus.FAILED.value,
        error_code=code,
        error_message=message[:1024],
        upstream_ms=upstream_ms,
        completed_at=utcnow(),
        **_uncounted(uncount_attempt),
    )


@dataclass(frozen=True)
class JobRequest:
    """What a job sends upstream, and whose request it is (for the result cache)."""

    user_id: int
    kind: str
    body: dict[str, Any]


def validated_output(body: dict[str, Any], kind: str = PredictionKind.PREDICTION.value) -> dict[str, Any]:
    """The part of an upstream answer we store, checked against the kind's response schema."""
    schema = shared(UpstreamEmbeddingResponseSchema if kind == PredictionKind.EMBEDDING else UpstreamPredictResponseSchema)
    try:
        return schema.load(body, unknown=EXCLUDE)
    except ValidationError:
        raise UpstreamError(UpstreamErrorCode.BAD_RESPONSE, "The upstream answered with an unexpected body.") from None


def cancel_prediction(user: User, prediction_id: str) -> Prediction:
    """Cancel a queued or running prediction; 409 if it already finished."""
    prediction = get_owned_prediction(user, prediction_id)
    canceled = _finish(
        prediction_id,
        {PredictionStatus.QUEUED, PredictionStatus.RUNNING},
        status=PredictionStatus.CANCELED.value,
        completed_at=utcnow(),
    )
    if not canceled:
        raise Conflict(f"The prediction already finished with status '{prediction.status}'.")
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
