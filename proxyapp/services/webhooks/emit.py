"""Turning state changes into deliveries: called after the transition committed, only for rows with a webhook.

Rows without a webhook never get here (the transition's UPDATE returns the target), so
they pay no extra SQL statement or Redis round trip.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import load_only

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.links import links_from
from proxyapp.models import PENDING_STATUSES, Batch, Prediction, utcnow
from proxyapp.schemas import BatchSchema, PredictionSummarySchema, shared
from proxyapp.services.predictions.batch_summary import summarize
from proxyapp.services.webhooks.deliveries import record_delivery
from proxyapp.services.webhooks.events import TEST_EVENT, WebhookEvent, envelope, wants

# Everything the payload shows; input and output (patient data) are never loaded.
_SUMMARY_COLUMNS = (Prediction.id, Prediction.user_id, Prediction.kind, Prediction.status, Prediction.cached,
                    Prediction.batch_id, Prediction.error_code, Prediction.error_message, Prediction.created_at,
                    Prediction.started_at, Prediction.completed_at, Prediction.attempts, Prediction.upstream_ms,
                    Prediction.webhook, Prediction.webhook_origin)


def prediction_payload(prediction: Prediction, event: WebhookEvent) -> dict[str, Any]:
    """The body of a prediction event: the prediction object without input and output."""
    with links_from(prediction.webhook_origin):
        data = shared(PredictionSummarySchema).dump(prediction)
    return envelope(f"prediction.{event.value}", data, utcnow())


def prediction_event(prediction_id: str, event: WebhookEvent) -> None:
    """Record and queue the delivery of a prediction's event to its webhook."""
    prediction = db.session.scalar(select(Prediction).options(load_only(*_SUMMARY_COLUMNS, raiseload=True))
                                   .where(Prediction.id == prediction_id))
    if prediction is None or not prediction.webhook:
        db.session.commit()
        return
    record_delivery(prediction.user_id, prediction.webhook, f"prediction.{event.value}",
                    prediction_payload(prediction, event), prediction_id=prediction_id)


def after_transition(prediction_id: str, target: Any, event: WebhookEvent) -> None:
    """Deliver what a committed transition means for its webhook (`target`: the row's webhook columns)."""
    if not target.webhook or not wants(target.webhook_events, event):
        return
    prediction_event(prediction_id, event)
    if event is WebhookEvent.COMPLETED and target.batch_id:
        batch_item_finished(target.batch_id)


def batch_item_finished(batch_id: str) -> None:
    """If this was the batch's last pending item, mark the batch completed (once) and deliver `batch.completed`."""
    pending = exists().where(Prediction.batch_id == batch_id,
                             Prediction.status.in_([status.value for status in PENDING_STATUSES]))
    begin_write()
    result = db.session.execute(update(Batch).where(Batch.id == batch_id, Batch.completed_at.is_(None), ~pending)
                                .values(completed_at=utcnow()))
    db.session.commit()
    if result.rowcount != 1:
        return
    batch = db.session.get(Batch, batch_id)
    if batch is None or not batch.webhook or not wants(batch.webhook_events, WebhookEvent.COMPLETED):
        db.session.commit()
        return
    with links_from(batch.webhook_origin):
        data = shared(BatchSchema).dump(summarize(batch))
    record_delivery(batch.user_id, batch.webhook, "batch.completed", envelope("batch.completed", data, utcnow()),
                    batch_id=batch_id)


def send_test_event(user_id: int, url: str) -> str:
    """Queue a `test` event to `url` (the account page's button); the delivery id."""
    data = {"message": "A test event from proxyapp: your endpoint received and can verify it."}
    return record_delivery(user_id, url, TEST_EVENT, envelope(TEST_EVENT, data, utcnow()))
