"""Limits and usage figures of an account, for /v1/me and the account page."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from limits import parse
from proxyapp.errors import APIError
from proxyapp.extensions import db, limiter
from proxyapp.models import PENDING_STATUSES, ApiKey, Prediction, PredictionStatus, User, utcnow
from proxyapp.queue import get_redis

SUBMIT_ACCOUNT_SCOPE = "submit-account"
# Daily request counters are kept for the account page's 30-day history (and a day's slack).
DAILY_COUNTER_TTL_SECONDS = 32 * 24 * 3600
RECENT_FOR_ESTIMATE = 20
DEFAULT_WAIT_SECONDS = 5
MAX_WAIT_SECONDS = 300


def effective_rate_limit(user: User) -> str:
    """The account's submission limit: the admin's override or RATE_LIMIT."""
    return user.rate_limit or current_app.config["RATE_LIMIT"]


def effective_max_pending(user: User) -> int:
    """How many queued+running predictions the account may have."""
    return user.max_pending if user.max_pending is not None else current_app.config["MAX_PENDING"]


def lock_account_row(user: User) -> None:
    """Serialise the account's submissions until the caller's transaction ends.

    Count-then-insert alone lets concurrent submissions all see room under MAX_PENDING. On
    PostgreSQL this takes the account row's lock (other accounts are not held up). SQLite
    has no row locks and needs none here: the caller's `begin_write` already holds the
    database's write lock, so the next submission counts only after this one committed.
    """
    if db.session.connection().dialect.name != "sqlite":
        db.session.execute(select(User.id).where(User.id == user.id).with_for_update())


def pending_count(user: User) -> int:
    """Queued plus running predictions of the account."""
    query = select(func.count()).select_from(Prediction).where(
        Prediction.user_id == user.id, Prediction.status.in_([status.value for status in PENDING_STATUSES])
    )
    return db.session.scalar(query) or 0


def estimated_wait_seconds(user: User) -> int:
    """How long one of the account's predictions recently took end to end (median of the last 20)."""
    rows = db.session.execute(
        select(Prediction.created_at, Prediction.completed_at)
        .where(Prediction.user_id == user.id, Prediction.completed_at.is_not(None))
        .order_by(Prediction.completed_at.desc())
        .limit(RECENT_FOR_ESTIMATE)
    ).all()
    if not rows:
        return DEFAULT_WAIT_SECONDS
    durations = sorted((completed - created).total_seconds() for created, completed in rows)
    return min(MAX_WAIT_SECONDS, max(1, math.ceil(durations[len(durations) // 2])))


def ensure_pending_capacity(user: User, count: int = 1) -> None:
    """429 `too_many_pending` when `count` more would exceed the account's cap of queued+running predictions."""
    cap = effective_max_pending(user)
    lock_account_row(user)
    if pending_count(user) + count > cap:
        raise APIError(
            429,
            f"You already have {cap} predictions queued or running; wait for some to finish.",
            error_code="too_many_pending",
            headers={"Retry-After": str(estimated_wait_seconds(user))},
        )


def predictions_by_status(user: User) -> dict[str, int]:
    """Count of the account's predictions per status (every status present, zeros included)."""
    rows = db.session.execute(
        select(Prediction.status, func.count()).where(Prediction.user_id == user.id).group_by(Prediction.status)
    )
    counts = {status.value: 0 for status in PredictionStatus}
    counts.update({status: count for status, count in rows})
    return counts


def _daily_counter(user_id: int, day: date, key_id: int | None = None) -> str:
    scope = f"{user_id}:key:{key_id}" if key_id is not None else f"{user_id}"
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}:usage:{scope}:{day.isoformat()}"


def record_request(user: User, key_id: int | None = None) -> None:
    """Count one API request of the account (and of the key used) towards today's figures."""
    pipe = get_redis().pipeline()
    today = utcnow().date()
    for counter in [_daily_counter(user.id, today)] + ([_daily_counter(user.id, today, key_id)] if key_id else []):
        pipe.incr(counter)
        pipe.expire(counter, DAILY_COUNTER_TTL_SECONDS)
    pipe.execute()


def daily_request_counts(user: User, days: list[date], key_id: int | None = None) -> list[int]:
    """API requests of the account (or of one key) on each of `days`; 0 where none were counted."""
    counts = get_redis().mget([_daily_counter(user.id, day, key_id) for day in days])
    return [int(count or 0) for count in counts]


def request_usage(user: User) -> dict[str, Any]:
    """Submissions in the account's current window, and API requests today (UTC)."""
    window_limit = effective_rate_limit(user)
    item = parse(window_limit)
    args = [current_app.config["RATELIMIT_KEY_PREFIX"], f"account:{user.id}", SUBMIT_ACCOUNT_SCOPE]
    _, remaining = limiter.limiter.get_window_stats(item, *args)
    today = get_redis().get(_daily_counter(user.id, utcnow().date()))
    return {"window_used": item.amount - remaining, "window_limit": window_limit, "today": int(today or 0)}


def account_summary(user: User, api_key: ApiKey | None = None) -> dict[str, Any]:
    """Account, the key in use (if any), limits and usage in one structure."""
    by_status = predictions_by_status(user)
    return {
        "account": user,
        "key": api_key,
        "limits": {
            "rate_limit": effective_rate_limit(user),
            "poll_rate_limit": current_app.config["POLL_RATE_LIMIT"],
            "max_pending": effective_max_pending(user),
        },
        "usage": {
            "requests": request_usage(user),
            "pending": sum(by_status[status.value] for status in PENDING_STATUSES),
            "predictions": by_status,
        },
    }
