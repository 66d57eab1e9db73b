"""What the account page shows: keys, usage and recent predictions, without patient data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import load_only

from proxyapp.models import ApiKey, Prediction, User, WebhookDelivery, WebhookSigningKey
from proxyapp.services.keys.lifecycle import KeyStatus, count_usable_keys, list_keys
from proxyapp.services.limits.usage import account_summary
from proxyapp.services.predictions.listing import Page, list_predictions
from proxyapp.services.webhooks.deliveries import recent_deliveries
from proxyapp.services.webhooks.signing_keys import is_in_grace, signing_key

RECENT_PREDICTIONS = 20


@dataclass(frozen=True)
class AccountOverview:
    """Everything on the account page, read in one place."""

    summary: dict[str, Any]
    keys: list[tuple[ApiKey, KeyStatus]]
    usable_keys: int
    predictions: Page
    webhook_key: WebhookSigningKey
    deliveries: list[WebhookDelivery]

    @property
    def webhook_grace_until(self) -> datetime | None:
        """Until when the rotated webhook secret still signs, if it does."""
        return self.webhook_key.previous_expires_at if is_in_grace(self.webhook_key) else None


    @property
    def keys_by_id(self) -> dict[int, ApiKey]:
        """The account's keys by id, to name the key of each prediction."""
        return {key.id: key for key, _ in self.keys}


def recent_predictions(user: User, *, limit: int = RECENT_PREDICTIONS, status: str | None = None,
                       cursor: str | None = None) -> Page:
    """A page of the account's predictions, newest first; input and output are not even loaded."""
    summary = load_only(Prediction.id, Prediction.kind, Prediction.api_key_id, Prediction.status,
                        Prediction.created_at, Prediction.started_at, Prediction.completed_at,
                        Prediction.error_code, raiseload=True)
    return list_predictions(user, limit=limit, status=status, cursor=cursor, options=[summary])


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
