"""Batches: several predictions submitted in one request, each an ordinary prediction row."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import delete, select

from proxyapp.errors import APIError
from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.models import ApiKey, Batch, Prediction, PredictionKind, PredictionStatus, User, new_prediction_id
from proxyapp.services import predictions
from proxyapp.services.usage import ensure_pending_capacity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSummary:
    """A batch, its items' ids and statuses in submission order, and the count per status."""

    batch: Batch
    items: list[dict[str, str]]
    counts: dict[str, int]


def create_batch(api_key: ApiKey, payloads: list[dict[str, Any]], *, cache_max_age: int | None = None) -> BatchSummary:
    """Store every item and the batch in one transaction, then queue the items that need the upstream.

    The whole batch counts against MAX_PENDING; 503, and nothing left stored, if Redis is down.
    """
    batch_id = new_prediction_id()
    items = [predictions.new_prediction(api_key, payload, kind=PredictionKind.PREDICTION.value,
                                        cache_max_age=cache_max_age, batch_id=batch_id) for payload in payloads]
    # Ids are time-ordered but random within a millisecond: hand them out sorted so that
    # listing a batch by id gives the submission order.
    for item, prediction_id in zip(items, sorted(item.id for item in items), strict=True):
        item.id = prediction_id
    to_queue = [item.id for item in items if not item.cached]
    begin_write()  # the pending count and the inserts in one short write transaction
    ensure_pending_capacity(api_key.user, len(to_queue))
    db.session.add(Batch(id=batch_id, user_id=api_key.user_id))
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
    return summarize(db.session.get(Batch, batch_id))


def _discard(batch_id: str) -> None:
    """Delete a batch that was never accepted, with its items (a job already queued finds no row)."""
    db.session.execute(delete(Prediction).where(Prediction.batch_id == batch_id))
    db.session.execute(delete(Batch).where(Batch.id == batch_id))
    db.session.commit()


def get_owned_batch(user: User, batch_id: str) -> BatchSummary:
    """The user's batch; 404 both when missing and when owned by someone else."""
    batch = db.session.scalar(select(Batch).where(Batch.id == batch_id, Batch.user_id == user.id))
    if batch is None:
        raise APIError(404, "No batch with this id.")
    return summarize(batch)


def summarize(batch: Batch) -> BatchSummary:
    """The batch with its items' statuses and the count per status (every status present)."""
    rows = db.session.execute(
        select(Prediction.id, Prediction.status).where(Prediction.batch_id == batch.id).order_by(Prediction.id)
    ).all()
    counts = {status.value: 0 for status in PredictionStatus}
    for row in rows:
        counts[row.status] += 1
    return BatchSummary(batch=batch, items=[{"id": row.id, "status": row.status} for row in rows], counts=counts)
