"""Limits and usage figures of an account, for /v1/me and the account page."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import func, select

from proxyapp.extensions import db
from proxyapp.models import PENDING_STATUSES, ApiKey, Prediction, PredictionStatus, User


def effective_rate_limit(user: User) -> str:
    """The account's submission limit: the admin's override or RATE_LIMIT."""
    return user.rate_limit or current_app.config["RATE_LIMIT"]


def effective_max_pending(user: User) -> int:
    """How many queued+running predictions the account may have."""
    return user.max_pending if user.max_pending is not None else current_app.config["MAX_PENDING"]


def predictions_by_status(user: User) -> dict[str, int]:
    """Count of the account's predictions per status (every status present, zeros included)."""
    rows = db.session.execute(
        select(Prediction.status, func.count()).where(Prediction.user_id == user.id).group_by(Prediction.status)
    )
    counts = {status.value: 0 for status in PredictionStatus}
    counts.update({status: count for status, count in rows})
    return counts


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
            "pending": sum(by_status[status.value] for status in PENDING_STATUSES),
            "predictions": by_status,
        },
    }
