"""The operator's overview of the whole deployment, one reading for `flask predictions stats` and /admin.

Each figure comes from the database or Redis through the same readers /readyz and /metrics
use (services/operations/readings.py), so the page, the command and the probes never disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from proxyapp.extensions import db
from proxyapp.models import Prediction, PredictionStatus, User, utcnow
from proxyapp.services.operations.readings import (
    SOURCE_ERRORS,
    failure_counts,
    live_workers,
    pending_figures,
    prediction_counts,
    queue_depth,
)
from proxyapp.services.upstream.circuit import circuit_breaker

RECENT_WINDOW = timedelta(hours=1)
USAGE_WINDOW = timedelta(hours=24)
TOP_ACCOUNTS = 5


@dataclass(frozen=True)
class AccountUsage:
    """One account's predictions submitted within the usage window."""

    user_id: int
    username: str
    predictions: int
    failed: int


@dataclass(frozen=True)
class SystemFigures:
    """Every figure an operator looks at first."""

    predictions: dict[str, int]
    failures: dict[str, int]
    last_hour: dict[str, int]
    oldest_queued_age_seconds: float
    queue_depth: int
    live_workers: int
    upstream_circuit: str
    top_accounts: list[AccountUsage]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the command's `--json`)."""
        return asdict(self)


def recent_counts(since: datetime) -> dict[str, int]:
    """Predictions submitted since `since`, by status, every status listed."""
    rows = db.session.execute(select(Prediction.status, func.count()).where(Prediction.created_at >= since)
                              .group_by(Prediction.status)).all()
    return {status.value: 0 for status in PredictionStatus} | dict(rows)


def top_accounts(since: datetime, limit: int = TOP_ACCOUNTS) -> list[AccountUsage]:
    """The accounts that submitted the most predictions since `since`, busiest first."""
    total = func.count(Prediction.id)
    failed = func.sum(case((Prediction.status == PredictionStatus.FAILED.value, 1), else_=0))
    rows = db.session.execute(
        select(User.id, User.username, total, failed)
        .join(Prediction, Prediction.user_id == User.id)
        .where(Prediction.created_at >= since)
        .group_by(User.id, User.username)
        .order_by(total.desc(), User.username)
        .limit(limit)
    ).all()
    return [AccountUsage(user_id, username, count, int(failures or 0)) for user_id, username, count, failures in rows]


def system_figures(now: datetime | None = None) -> SystemFigures:
    """Counts, the last hour, the queue, workers, the circuit and the busiest accounts; raises SOURCE_ERRORS."""
    now = now or utcnow()
    return SystemFigures(
        predictions=prediction_counts(),
        failures=failure_counts(),
        last_hour=recent_counts(now - RECENT_WINDOW),
        oldest_queued_age_seconds=round(pending_figures(now).oldest_queued_age, 1),
        queue_depth=queue_depth(),
        live_workers=live_workers(),
        upstream_circuit=circuit_breaker().state().value,
        top_accounts=top_accounts(now - USAGE_WINDOW),
    )


def read_system_figures() -> SystemFigures | None:
    """The figures, or None when the database or Redis does not answer (the admin page says so)."""
    try:
        return system_figures()
    except SOURCE_ERRORS:
        db.session.rollback()
        return None
