"""The webhook delivery job: one attempt of one delivery (retries are scheduled by the attempt itself)."""

from __future__ import annotations

from proxyapp.services.webhooks.deliveries import attempt_delivery
from workers.context import get_app


def deliver(delivery_id: str, attempt: int) -> str:
    """Send attempt number `attempt` of a delivery and record how it went."""
    with get_app().app_context():
        return attempt_delivery(delivery_id, attempt)
