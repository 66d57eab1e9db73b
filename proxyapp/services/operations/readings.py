"""Figures about the whole deployment, read when asked: /readyz, /metrics and `flask predictions stats`.

Every figure comes from the database or Redis, never from the memory of one process, so
any web process reports the same numbers whichever process did the work.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from proxyapp.extensions import db
from proxyapp.models import PENDING_STATUSES, Prediction, PredictionStatus, utcnow
from proxyapp.queue import get_queue, get_redis, redis_key

# Where the reconciler records the time of its last completed pass (services/predictions/reconcile.py).
RECONCILER_LAST_PASS_KEY = "reconcile-last-pass"
# What a figure's source raises when it cannot answer now (down, unreachable, not migrated yet).
SOURCE_ERRORS = (RedisError, SQLAlchemyError)


@dataclass(frozen=True)
class PendingFigures:
    """Predictions accepted but not finished, from the database (the clients' source of truth)."""

    queued: int
    running: int
    oldest_queued_age: float  # seconds the oldest queued prediction has waited; 0 when none


def pending_figures(now: datetime | None = None) -> PendingFigures:
    """Queued and running counts and the age of the oldest queued prediction (one indexed query)."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Prediction.status, func.count(), func.min(Prediction.created_at))
        .where(Prediction.status.in_([status.value for status in PENDING_STATUSES]))
        .group_by(Prediction.status)
    ).all()
    by_status = {status: (count, oldest) for status, count, oldest in rows}
    queued, oldest = by_status.get(PredictionStatus.QUEUED.value, (0, None))
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return PendingFigures(queued, by_status.get(PredictionStatus.RUNNING.value, (0, None))[0], age)


def prediction_counts() -> dict[str, int]:
    """Stored predictions by status, every status listed (zero when there are none)."""
    rows = db.session.execute(select(Prediction.status, func.count()).group_by(Prediction.status)).all()
    return {status.value: 0 for status in PredictionStatus} | dict(rows)


def failure_counts() -> dict[str, int]:
    """Failed predictions by error code, most frequent first."""
    rows = db.session.execute(
        select(Prediction.error_code, func.count())
        .where(Prediction.status == PredictionStatus.FAILED.value)
        .group_by(Prediction.error_code)
    ).all()
    return dict(sorted(((code or "unknown", count) for code, count in rows), key=lambda row: -row[1]))


def queue_depth() -> int:
    """Jobs waiting in the prediction queue for a worker."""
    return get_queue().count


def beat_window() -> float:
    """Seconds after its last heartbeat that a worker process still counts as live."""
    return max(3 * current_app.config["RECONCILE_INTERVAL_SECONDS"], 5.0)


def _beats_key() -> str:
    return redis_key("worker-beats")


def _process_id(hostname: str | bytes | None, pid: str | int | bytes | None) -> str:
    as_text = [part.decode() if isinstance(part, bytes) else str(part) for part in (hostname, pid)]
    return ":".join(as_text)


def record_worker_beat() -> None:
    """Say that this worker process is alive now (its upkeep thread calls this every interval)."""
    now = time.time()
    with get_redis().pipeline(transaction=False) as pipe:
        pipe.zadd(_beats_key(), {_process_id(socket.gethostname(), os.getpid()): now})
        pipe.zremrangebyscore(_beats_key(), "-inf", now - 10 * beat_window())
        pipe.execute()


def live_workers() -> int:
    """Workers registered on the prediction queue whose process has sent a heartbeat lately.

    RQ's own worker key lives `worker_ttl` (7 minutes) after a SIGKILL and an idle worker
    refreshes it only that often, so a registered worker alone proves nothing; the
    upkeep thread's heartbeat (workers/upkeep.py) stops the moment the process dies.
    """
    keys = Worker.all_keys(queue=get_queue())
    if not keys:
        return 0
    redis = get_redis()
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, "hostname", "pid")
        # A process that started its RQ worker over (after an outage) may be registered twice: count it once.
        identities = sorted({_process_id(*fields) for fields in pipe.execute() if all(fields)})
    if not identities:
        return 0
    fresh_since = time.time() - beat_window()
    scores = redis.zmscore(_beats_key(), identities)
    return sum(1 for score in scores if score is not None and score >= fresh_since)


def overdue_runs(now: datetime | None = None) -> int:
    """Predictions running for longer than JOB_TIMEOUT: something failed to end or recover them."""
    cutoff = (now or utcnow()) - timedelta(seconds=current_app.config["JOB_TIMEOUT"])
    return db.session.scalar(select(func.count()).select_from(Prediction).where(
        Prediction.status == PredictionStatus.RUNNING.value, Prediction.started_at < cutoff)) or 0


def reconciler_age() -> float | None:
    """Seconds since any process finished a reconciler pass, or None if none is on record."""
    last = get_redis().get(redis_key(RECONCILER_LAST_PASS_KEY))
    return None if last is None else max(0.0, time.time() - float(last))


def is_reconciler_stale(age: float | None) -> bool:
    """True when no pass ran within three intervals (or at least 30 s)."""
    return age is None or age > max(3 * current_app.config["RECONCILE_INTERVAL_SECONDS"], 30.0)
