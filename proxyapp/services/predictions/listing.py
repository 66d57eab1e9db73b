"""The caller's predictions, newest first, with cursor pagination.

Prediction ids are time-ordered (milliseconds first), so "newest first" is "highest id
first" and a cursor is simply the last id seen: predictions created later have higher ids
and never shift the pages a client is walking through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.sql.base import ExecutableOption

from proxyapp.extensions import db
from proxyapp.models import Prediction, User


@dataclass(frozen=True)
class Page:
    """One page of predictions and the cursor of the next (None on the last page)."""

    data: list[Prediction]
    next_cursor: str | None


def list_predictions(user: User, *, limit: int, status: str | None = None, cursor: str | None = None,
                     options: Sequence[ExecutableOption] = ()) -> Page:
    """Up to `limit` of the user's predictions older than the cursor, newest first (`options`: loader options)."""
    query = select(Prediction).options(*options).where(Prediction.user_id == user.id)
    if status:
        query = query.where(Prediction.status == status)
    if cursor:
        query = query.where(Prediction.id < cursor)
    rows = list(db.session.scalars(query.order_by(Prediction.id.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(data=rows, next_cursor=rows[-1].id if has_more else None)
