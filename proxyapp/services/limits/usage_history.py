"""An account's (or one key's) usage per UTC day over the last 30 days, aggregated in SQL.

Predictions are counted on the day they were submitted (`created_at`, UTC). Latency
percentiles are nearest-rank: p-th = the value at rank ⌈p/100 · n⌉ of the day's upstream
latencies in ascending order, so it is always a latency that was measured. They are taken
with window functions (row_number and count over the day), which SQLite (3.25+) and
PostgreSQL both run, so neither dialect needs its own percentile function and no latencies
are fetched into Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Date, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from proxyapp.extensions import db
from proxyapp.models import PENDING_STATUSES, ApiKey, Prediction, User, utcnow
from proxyapp.services.limits.usage import daily_request_counts

WINDOW_DAYS = 30
PENDING = "pending"  # queued and running, counted together: both are moments, not outcomes
STATUS_SERIES = ("succeeded", "failed", "canceled", PENDING)
PERCENTILES = (50, 95)


class utc_day(FunctionElement):
    """The calendar day of a timestamp stored as naive UTC, as a DATE."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _cast_to_date(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(utc_day, "sqlite")
def _sqlite_date(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@dataclass
class DayUsage:
    """One UTC day's figures; zeros (and no percentiles) on a day without activity."""

    day: date
    requests: int | None = None  # None: the counters could not be read
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_SERIES, 0))
    errors: dict[str, int] = field(default_factory=dict)
    timed: int = 0  # predictions with an upstream latency
    p50: int | None = None
    p95: int | None = None

    @property
    def predictions(self) -> int:
        """Predictions submitted that day, whatever became of them."""
        return sum(self.statuses.values())


@dataclass(frozen=True)
class UsageHistory:
    """The window's days, oldest first, for the account or for one of its keys."""

    days: list[DayUsage]
    key: ApiKey | None

    @property
    def requests_available(self) -> bool:
        """False when Redis did not answer: request figures are then unknown, not zero."""
        return all(day.requests is not None for day in self.days)

    @property
    def error_codes(self) -> list[str]:
        """Every error code seen in the window, most frequent first."""
        totals: dict[str, int] = defaultdict(int)
        for day in self.days:
            for code, count in day.errors.items():
                totals[code] += count
        return sorted(totals, key=lambda code: (-totals[code], code))

    def total(self, name: str) -> int:
        """The window's sum of a per-day figure (`requests`, `predictions`) or of one status."""
        if name in STATUS_SERIES:
            return sum(day.statuses[name] for day in self.days)
        return sum(getattr(day, name) or 0 for day in self.days)


def window(today: date) -> list[date]:
    """The WINDOW_DAYS UTC days ending with `today`, oldest first."""
    return [today - timedelta(days=offset) for offset in range(WINDOW_DAYS - 1, -1, -1)]


def _filters(user: User, key: ApiKey | None, days: list[date]) -> list[Any]:
    start = datetime.combine(days[0], time(), UTC)
    end = datetime.combine(days[-1] + timedelta(days=1), time(), UTC)
    conditions = [Prediction.user_id == user.id, Prediction.created_at >= start, Prediction.created_at < end]
    if key is not None:
        conditions.append(Prediction.api_key_id == key.id)
    return conditions


def _status_counts(conditions: list[Any]) -> list[tuple[date, str, str | None, int]]:
    day = utc_day(Prediction.created_at)
    query = (select(day, Prediction.status, Prediction.error_code, func.count())
             .where(*conditions).group_by(day, Prediction.status, Prediction.error_code))
    return [tuple(row) for row in db.session.execute(query)]


def _latency_percentiles(conditions: list[Any]) -> list[tuple[date, int, int, int]]:
    """(day, n, p50, p95) for each day with upstream latencies, nearest-rank."""
    day = utc_day(Prediction.created_at)
    ranked = (select(day.label("day"), Prediction.upstream_ms.label("ms"),
                     func.row_number().over(partition_by=day, order_by=Prediction.upstream_ms).label("rank"),
                     func.count().over(partition_by=day).label("n"))
              .where(*conditions, Prediction.upstream_ms.is_not(None)).subquery())
    at_rank = [func.max(case((ranked.c.rank == (ranked.c.n * p + 99) // 100, ranked.c.ms)))
               for p in PERCENTILES]
    query = select(ranked.c.day, func.max(ranked.c.n), *at_rank).group_by(ranked.c.day)
    return [tuple(row) for row in db.session.execute(query)]


def _add_counts(by_day: dict[date, DayUsage], rows: list[tuple[date, str, str | None, int]]) -> None:
    pending = {status.value for status in PENDING_STATUSES}
    for day, status, error_code, count in rows:
        usage = by_day[day]
        usage.statuses[PENDING if status in pending else status] += count
        if error_code:
            usage.errors[error_code] = usage.errors.get(error_code, 0) + count


def usage_history(user: User, key: ApiKey | None = None, today: date | None = None) -> UsageHistory:
    """Requests, predictions by status and error code, and p50/p95 upstream latency per day."""
    days = window(today or utcnow().date())
    by_day = {day: DayUsage(day) for day in days}
    conditions = _filters(user, key, days)
    _add_counts(by_day, _status_counts(conditions))
    for day, timed, p50, p95 in _latency_percentiles(conditions):
        by_day[day].timed, by_day[day].p50, by_day[day].p95 = timed, p50, p95
    try:
        requests = daily_request_counts(user, days, key.id if key else None)
    except RedisError:
        requests = [None] * len(days)
    for day, count in zip(days, requests, strict=True):
        by_day[day].requests = count
    return UsageHistory(days=[by_day[day] for day in days], key=key)
