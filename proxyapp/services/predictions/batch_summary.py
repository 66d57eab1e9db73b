"""A batch as the API shows it: its items' ids and statuses, and the count per status."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from proxyapp.extensions import db
from proxyapp.models import Batch, Prediction, PredictionStatus


@dataclass(frozen=True)
class BatchSummary:
    """A batch, its items' ids and statuses in submission order, and the count per status."""

    batch: Batch
    items: list[dict[str, str]]
    counts: dict[str, int]


def summarize(batch: Batch) -> BatchSummary:
    """The batch with its items' statuses and the count per status (every status present)."""
    rows = db.session.execute(
        select(Prediction.id, Prediction.status).where(Prediction.batch_id == batch.id).order_by(Prediction.id)
    ).all()
    counts = {status.value: 0 for status in PredictionStatus}
    for row in rows:
        counts[row.status] += 1
    return BatchSummary(batch=batch, items=[{"id": row.id, "status": row.status} for row in rows], counts=counts)
