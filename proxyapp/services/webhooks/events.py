"""What a submission asks for (its webhook target) and what a delivery carries (the event envelope)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from proxyapp.links import public_origin
from proxyapp.schemas import DEFAULT_WEBHOOK_EVENTS, Timestamp


class WebhookEvent(str, Enum):
    """The events a submission can ask for in `webhook_events_filter`."""

    START = "start"  # a worker picked the prediction up
    COMPLETED = "completed"  # succeeded, failed or canceled


TEST_EVENT = "test"


@dataclass(frozen=True)
class WebhookTarget:
    """Where a submission's events go, which ones, and the origin its links are built under."""

    url: str
    events: str  # comma-separated WebhookEvent values, as stored
    origin: str

    def columns(self) -> dict[str, str]:
        """The model columns (Prediction, Batch) that store this target."""
        return {"webhook": self.url, "webhook_events": self.events, "webhook_origin": self.origin}


def take_target(body: dict[str, Any]) -> WebhookTarget | None:
    """Remove `webhook` and `webhook_events_filter` from a validated body; the target, if one was given.

    What is left is exactly what goes upstream (and what idempotency compares).
    """
    url = body.pop("webhook", None)
    events = body.pop("webhook_events_filter", None) or DEFAULT_WEBHOOK_EVENTS
    if url is None:
        return None
    return WebhookTarget(url=url, events=",".join(sorted(set(events))), origin=public_origin())


def wants(stored_events: str | None, event: WebhookEvent) -> bool:
    """Whether a stored events filter includes the event."""
    return event.value in (stored_events or "").split(",")


def envelope(event_type: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The Standard Webhooks body: `type`, `timestamp` and the event's `data`."""
    return {"type": event_type, "timestamp": Timestamp()._serialize(at, None, None), "data": data}
