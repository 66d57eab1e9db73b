"""Figures about the whole deployment, read when asked: /readyz, /metrics and `flask predictions stats`.

Every figure comes from the database or Redis, never from the memory of one process, so
any web process reports the same numbers whichever process did the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from flask import current_app
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from proxyapp.extensions import db
from proxyapp.models import PENDING_STATUSES, Prediction, PredictionStatus, utcnow
from proxyapp.queue import get_queue, get_redis, redis_key
from proxyapp.services.circuit import CircuitBreaker

# The prefix the workers' breaker keeps its state under (workers.predictions.breaker).
CIRCUIT_KEY = "circuit"
# What a figure's source raises when it cannot answer now (down, unreachable, not migrated yet).
SOURCE_ERRORS = (RedisError, SQLAlchemyError)


class CircuitState(str, Enum):
    """The upstream circuit breaker as every worker sees it."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"  # one worker may probe the upstream
    OPEN = "open"  # no calls are made until it has been open CIRCUIT_OPEN_SECONDS


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


def live_workers() -> int:
    """Workers registered on the prediction queue whose heartbeat key has not expired."""
    keys = Worker.all_keys(queue=get_queue())
    # A SIGKILLed worker stays registered until RQ's maintenance runs; its key expires sooner.
    return int(get_redis().exists(*keys)) if keys else 0


def circuit_breaker() -> CircuitBreaker:
    """A handle on the breaker state the workers share (for reading; this process makes no calls)."""
    config = current_app.config
    return CircuitBreaker(get_redis(), redis_key(CIRCUIT_KEY), threshold=config["CIRCUIT_FAILURE_THRESHOLD"],
                          open_seconds=config["CIRCUIT_OPEN_SECONDS"], probe_seconds=config["UPSTREAM_TIMEOUT"])


def circuit_state() -> CircuitState:
    """Open while the breaker's open key lives; half-open once failures reached the threshold."""
    breaker = circuit_breaker()
    is_open, failures = get_redis().mget(breaker.open_key, breaker.failures_key)
    if is_open:
        return CircuitState.OPEN
    if int(failures or 0) >= breaker.threshold:
        return CircuitState.HALF_OPEN
    return CircuitState.CLOSED
