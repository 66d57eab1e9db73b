"""Holding predictions back while the upstream circuit is open, instead of failing them.

A run that finds the circuit open puts its prediction back to `queued` and schedules a
new RQ job for when the circuit may have half-opened (RQ's `enqueue_in`: the job waits in
RQ's scheduled-job registry; the workers' upkeep thread moves due jobs to the queue with
RQ's own scheduler, so no `--with-scheduler` worker is needed). A prediction is held only
while that keeps it within CIRCUIT_HOLD_SECONDS of its submission; after that it fails
with `upstream_circuit_open` as before. The held job has its own id (the running job's
id is deleted by RQ when it returns), recorded under `held:<prediction id>` so the
reconciler sees the prediction as alive while its job waits.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta

from flask import current_app
from redis import Redis
from rq.scheduler import RQScheduler
from sqlalchemy import select

from proxyapp.extensions import db
from proxyapp.models import Prediction, utcnow
from proxyapp.queue import PREDICTION_JOB, get_queue, get_redis, redis_key
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.upstream.circuit import circuit_breaker

log = logging.getLogger(__name__)


def held_key(prediction_id: str) -> str:
    """The Redis key naming the scheduled job of a held prediction."""
    return redis_key("held", prediction_id)


def _delay_seconds() -> float:
    """Until the circuit may half-open, plus jitter so held jobs do not all return at once."""
    config = current_app.config
    remaining = circuit_breaker().open_for_seconds()
    base = remaining if remaining is not None else config["CIRCUIT_OPEN_SECONDS"]
    return base + random.uniform(0, max(1.0, config["RECONCILE_INTERVAL_SECONDS"]))


def hold_back(prediction_id: str, *, uncount_attempt: bool = False) -> bool:
    """Re-queue a running prediction for later if its hold window allows; False if it does not."""
    config = current_app.config
    delay = _delay_seconds()
    created_at = db.session.scalar(select(Prediction.created_at).where(Prediction.id == prediction_id))
    db.session.commit()
    if created_at is None or utcnow() + timedelta(seconds=delay) > created_at + timedelta(
            seconds=config["CIRCUIT_HOLD_SECONDS"]):
        return False
    # Back to queued, and this run not counted: it never reached the upstream, so it must not bring
    # the prediction closer to worker_lost.
    if not predictions.requeue_running(prediction_id, uncount_attempt=uncount_attempt):
        return False
    job_id = f"{prediction_id}-held-{uuid.uuid4().hex[:8]}"
    get_redis().set(held_key(prediction_id), job_id,
                    ex=int(delay + config["JOB_LEASE_SECONDS"] + 4 * config["RECONCILE_INTERVAL_SECONDS"] + 60))
    get_queue().enqueue_in(timedelta(seconds=delay), PREDICTION_JOB, prediction_id, job_id=job_id,
                           **predictions.job_options(f"prediction {prediction_id} (held: circuit open)"))
    log.info("upstream circuit open: prediction held back %.1f s", delay, extra={"prediction_id": prediction_id})
    return True


def held_ids(redis: Redis, prediction_ids: list[str]) -> set[str]:
    """Which of these predictions wait in a held job."""
    if not prediction_ids:
        return set()
    values = redis.mget([held_key(pid) for pid in prediction_ids])
    return {pid for pid, value in zip(prediction_ids, values, strict=True) if value is not None}


def enqueue_due_held_jobs() -> None:
    """Move scheduled jobs whose time has come onto the queue, under RQ's own scheduler lock."""
    queue = get_queue()
    scheduler = RQScheduler([queue], connection=get_redis(), serializer=queue.serializer)
    if not scheduler.acquire_locks():
        return
    try:
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()

