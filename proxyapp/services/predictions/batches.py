"""Batches: several predictions submitted in one request, each an ordinary prediction row."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import delete, select

from proxyapp.database import begin_write
from proxyapp.errors import NotFound
from proxyapp.extensions import db
from proxyapp.models import ApiKey, Batch, Prediction, PredictionKind, User, new_prediction_id
from proxyapp.services.limits.usage import ensure_pending_capacity
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.predictions.batch_summary import BatchSummary, summarize
from proxyapp.services.webhooks.emit import batch_item_finished, prediction_event
from proxyapp.services.webhooks.events import WebhookEvent, WebhookTarget, wants

__all__ = ["BatchSummary", "create_batch", "get_owned_batch", "summarize"]

log = logging.getLogger(__name__)


def create_batch(api_key: ApiKey, payloads: list[dict[str, Any]], *, cache_max_age: int | None = None,
                 webhook: WebhookTarget | None = None) -> BatchSummary:
    """Store every item and the batch in one transaction, then queue the items that need the upstream.

    The whole batch counts against MAX_PENDING; 503, and nothing left stored, if Redis is down.
    A webhook gets every item's events and the batch's one `batch.completed`.
    """
    batch_id = new_prediction_id()
    items = [predictions.new_prediction(api_key, payload, kind=PredictionKind.PREDICTION.value,
                                        cache_max_age=cache_max_age, batch_id=batch_id, webhook=webhook)
             for payload in payloads]
    # Ids are time-ordered but random within a millisecond: hand them out sorted so that
    # listing a batch by id gives the submission order.
    for item, prediction_id in zip(items, sorted(item.id for item in items), strict=True):
        item.id = prediction_id
    to_queue = [item.id for item in items if not item.cached]
    item_ids = [item.id for item in items]
    begin_write()  # the pending count and the inserts in one short write transaction
    ensure_pending_capacity(api_key.user, len(to_queue))
    db.session.add(Batch(id=batch_id, user_id=api_key.user_id, **(webhook.columns() if webhook else {})))
    db.session.flush()  # the batch row must exist before items reference it
    db.session.add_all(items)
    db.session.commit()
    try:
        for prediction_id in to_queue:
            predictions.enqueue_prediction(prediction_id)
    except RedisError:
        log.warning("queue unavailable; batch not accepted", extra={"batch_id": batch_id})
        _discard(batch_id)
        raise predictions.queue_unavailable() from None
    if webhook is not None and wants(webhook.events, WebhookEvent.COMPLETED):
        _deliver_cached_items(batch_id, [item_id for item_id in item_ids if item_id not in to_queue])
    return summarize(db.session.get(Batch, batch_id))


def _deliver_cached_items(batch_id: str, cached_ids: list[str]) -> None:
    """Items answered from the cache completed at once: their events, and the batch's if nothing is queued."""
    for prediction_id in cached_ids:
        prediction_event(prediction_id, WebhookEvent.COMPLETED)
    if cached_ids:
        batch_item_finished(batch_id)


def _discard(batch_id: str) -> None:
    """Delete a batch that was never accepted, with its items (a job already queued finds no row)."""
    db.session.execute(delete(Prediction).where(Prediction.batch_id == batch_id))
    db.session.execute(delete(Batch).where(Batch.id == batch_id))
    db.session.commit()


def get_owned_batch(user: User, batch_id: str) -> BatchSummary:
    """The user's batch; 404 both when missing and when owned by someone else."""
    batch = db.session.scalar(select(Batch).where(Batch.id == batch_id, Batch.user_id == user.id))
    if batch is None:
        raise NotFound("No batch with this id.")
    return summarize(batch)
