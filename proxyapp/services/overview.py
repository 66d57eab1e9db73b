"""What the account page shows: keys, usage and recent predictions, without patient data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import load_only

from proxyapp.extensions import db
from proxyapp.models import ApiKey, Prediction, User
from proxyapp.services.keyring import KeyStatus, count_usable_keys, list_keys
from proxyapp.services.usage import account_summary

RECENT_PREDICTIONS = 20


@dataclass(frozen=True)
class AccountOverview:
    """Everything on the account page, read in one place."""

    summary: dict[str, Any]
    keys: list[tuple[ApiKey, KeyStatus]]
    usable_keys: int
    predictions: list[Prediction]


def recent_predictions(user: User, limit: int = RECENT_PREDICTIONS) -> list[Prediction]:
    """The account's newest predictions; input and output are not even loaded."""
    query = (
        select(Prediction)
        .options(load_only(Prediction.id, Prediction.status, Prediction.created_at, Prediction.started_at,
                           Prediction.completed_at, Prediction.error_code, raiseload=True))
        .where(Prediction.user_id == user.id)
        .order_by(Prediction.created_at.desc(), Prediction.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def account_overview(user: User) -> AccountOverview:
    """The account's limits and usage, keys with their statuses, and recent predictions."""
    return AccountOverview(
        summary=account_summary(user),
        keys=list_keys(user),
        usable_keys=count_usable_keys(user),
        predictions=recent_predictions(user),
    )
