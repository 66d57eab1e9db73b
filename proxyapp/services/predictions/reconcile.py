"""The reconciler: no accepted prediction stays queued or running forever, and old results go.

A pending prediction is alive while a run holds its lease or its RQ job waits in the
queue. Anything else (the job vanished with a Redis restart, its worker was killed,
it raised) is suspected; once the suspicion has lasted a full lease period (so a run
whose lease Redis forgot has had time to renew it) the prediction is re-enqueued, or
failed with `worker_lost` when it has already been started MAX_RUNS times.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.metrics.shared import record_reconciler_error
from proxyapp.models import PENDING_STATUSES, TERMINAL_STATUSES, Prediction, utcnow
from proxyapp.queue import get_queue, get_redis, redis_key
from proxyapp.services.operations.readings import RECONCILER_LAST_PASS_KEY
from proxyapp.services.predictions import holding, leases
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.webhooks.deliveries import purge_old_deliveries, requeue_stale_deliveries

log = logging.getLogger(__name__)

WORKER_LOST = "worker_lost"
BATCH_SIZE = 1000
PURGE_INTERVAL_SECONDS = 3600
WAITING_JOB_STATUSES = frozenset({"queued", "scheduled", "deferred"})


def run_due_pass() -> bool:
    """Run one pass unless another scheduler ran one within the interval; True if this one ran."""
    interval_ms = int(current_app.config["RECONCILE_INTERVAL_SECONDS"] * 1000)
    # Expires a little early so the next tick of the same scheduler is never locked out.
    if not get_redis().set(redis_key("reconcile-lock"), uuid.uuid4().hex, nx=True, px=max(1, interval_ms * 9 // 10)):
        return False
    requeued, failed = recover_lost_predictions()
    redelivered = requeue_stale_deliveries()
    purged = purge_expired_results() + purge_old_deliveries() if _purge_due() else 0
    if requeued or failed or purged or redelivered:
        log.warning("reconciler: re-enqueued %d, failed %d as %s, purged %d, re-queued %d webhook deliveries",
                    requeued, failed, WORKER_LOST, purged, redelivered)
    get_redis().set(redis_key(RECONCILER_LAST_PASS_KEY), str(time.time()))
    return True


def recover_lost_predictions(now: datetime | None = None) -> tuple[int, int]:
    """Re-enqueue or fail pending predictions that nothing is working on; (re-enqueued, failed)."""
    now = now or utcnow()
    grace = timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])
    runs_by_id = _pending_runs(created_before=now - grace)
    if not runs_by_id:
        return 0, 0
    alive = _alive_ids(list(runs_by_id))
    lost = [pid for pid in runs_by_id if pid not in alive and _is_confirmed_lost(pid, now)]
    requeued = failed = 0
    for prediction_id in lost:
        try:
            if runs_by_id[prediction_id] >= current_app.config["MAX_RUNS"]:
                failed += _fail_lost(prediction_id, runs_by_id[prediction_id])
            else:
                requeue_prediction(prediction_id)
                requeued += 1
        except (RedisError, SQLAlchemyError):
            raise  # an outage: the whole pass stops and the next one starts over
        except Exception as error:
            db.session.rollback()
            log.exception("could not recover a lost prediction", extra={"prediction_id": prediction_id})
            record_reconciler_error(type(error).__name__)
    return requeued, failed


def _pending_runs(created_before: datetime) -> dict[str, int]:
    """Runs so far of the oldest queued or running predictions accepted before the given time."""
    query = (select(Prediction.id, Prediction.runs)
             .where(Prediction.status.in_([s.value for s in PENDING_STATUSES]), Prediction.created_at < created_before)
             .order_by(Prediction.created_at).limit(BATCH_SIZE))
    runs_by_id = {prediction_id: runs for prediction_id, runs in db.session.execute(query)}
    db.session.commit()  # hold no transaction (on SQLite, a write lock) through the Redis calls that follow
    return runs_by_id


def _alive_ids(ids: list[str]) -> set[str]:
    """Ids of predictions a live run holds or whose job waits in the queue; forgets their suspicion."""
    held = leases.is_held(get_redis(), ids)
    held_back = holding.held_ids(get_redis(), ids)
    jobs = Job.fetch_many(ids, connection=get_redis(), serializer=get_queue().serializer)
    alive = {pid for pid, job in zip(ids, jobs, strict=True)
             if held[pid] or pid in held_back
             or (job is not None and job.get_status(refresh=False) in WAITING_JOB_STATUSES)}
    if alive:
        get_redis().delete(*(_suspect_key(pid) for pid in alive))
    return alive


def _suspect_key(prediction_id: str) -> str:
    return redis_key("suspect", prediction_id)


def _is_confirmed_lost(prediction_id: str, now: datetime) -> bool:
    """True once the prediction has been found without a run for a whole lease period."""
    lease_seconds = current_app.config["JOB_LEASE_SECONDS"]
    key = _suspect_key(prediction_id)
    redis = get_redis()
    redis.set(key, str(now.timestamp()), nx=True, ex=max(1, int(4 * lease_seconds)))
    first_seen = float(redis.get(key) or now.timestamp())
    return now.timestamp() - first_seen >= lease_seconds


def requeue_prediction(prediction_id: str) -> None:
    """Replace whatever is left of the prediction's job with a fresh one on the queue."""
    stale = get_queue().fetch_job(prediction_id)
    if stale is not None:
        _delete_job(stale)
    predictions.enqueue_prediction(prediction_id)
    get_redis().delete(_suspect_key(prediction_id))
    log.info("re-enqueued a lost prediction", extra={"prediction_id": prediction_id})


def _delete_job(job: Job) -> None:
    """Delete a stale job; RQ raises ValueError when its execution record is already gone (after an outage)."""
    try:
        job.delete()
    except ValueError:
        log.info("stale job had no execution record left; deleting its hash", extra={"prediction_id": job.id})
        get_redis().delete(job.key)


def _fail_lost(prediction_id: str, runs: int) -> int:
    """Fail a prediction whose runs kept getting lost; 1 if it was still pending."""
    message = f"The prediction was started {runs} times and each run was lost; it will not be retried."
    return int(predictions.mark_failed(prediction_id, WORKER_LOST, message))


def _purge_due() -> bool:
    """At most one purge per hour across all schedulers."""
    return bool(get_redis().set(redis_key("purge-due"), "1", nx=True, ex=PURGE_INTERVAL_SECONDS))


def purge_expired_results(now: datetime | None = None) -> int:
    """Drop input and output of predictions finished more than RESULT_RETENTION_DAYS ago; rows purged."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["RESULT_RETENTION_DAYS"])
    expired = (select(Prediction.id)
               .where(Prediction.status.in_([s.value for s in TERMINAL_STATUSES]),
                      Prediction.completed_at < cutoff, Prediction.purged_at.is_(None))
               .limit(BATCH_SIZE))
    total = 0
    while True:
        ids = list(db.session.scalars(expired))
        if not ids:
            return total
        begin_write()
        db.session.execute(update(Prediction).where(Prediction.id.in_(ids))
                           .values(input=None, output=None, purged_at=now))
        db.session.commit()
        total += len(ids)
