"""What the account page shows: keys, usage and recent predictions, without patient data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import load_only

from proxyapp.extensions import db
from proxyapp.models import ApiKey, Prediction, User, WebhookDelivery, WebhookSigningKey
from proxyapp.services.keyring import KeyStatus, count_usable_keys, list_keys
from proxyapp.services.usage import account_summary
from proxyapp.services.webhooks.deliveries import recent_deliveries
from proxyapp.services.webhooks.signing_keys import is_in_grace, signing_key

RECENT_PREDICTIONS = 20


@dataclass(frozen=True)
class AccountOverview:
    """Everything on the account page, read in one place."""

    summary: dict[str, Any]
    keys: list[tuple[ApiKey, KeyStatus]]
    usable_keys: int
    predictions: list[Prediction]
    webhook_key: WebhookSigningKey
    deliveries: list[WebhookDelivery]

    @property
    def webhook_grace_until(self) -> datetime | None:
        """Until when the rotated webhook secret still signs, if it does."""
        return self.webhook_key.previous_expires_at if is_in_grace(self.webhook_key) else None


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
        webhook_key=signing_key(user.id),
        deliveries=recent_deliveries(user.id),
    )
