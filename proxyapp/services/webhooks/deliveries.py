"""Webhook deliveries: recorded in SQL, attempted by RQ jobs on the workers, retried with backoff.

A delivery row is written (after the transition that caused it committed) and its first
attempt is queued at once; each attempt is one job, `workers.webhooks.deliver(id, attempt)`. A
failed attempt (timeout, connection error, non-2xx) schedules the next with RQ's
`enqueue_in`, WEBHOOK_BACKOFF_BASE × 2ⁿ seconds later capped at WEBHOOK_BACKOFF_MAX, until
WEBHOOK_RETRY_SECONDS after the event; then the delivery is given up. A refused URL or
address is recorded at once and never retried. An attempt claims its number with one
conditional UPDATE, so a job that runs twice (RQ delivers at least once) sends once.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Row

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.models import DeliveryState, WebhookDelivery, WebhookSigningKey, new_prediction_id, utcnow
from proxyapp.queue import get_queue
from proxyapp.services.webhooks.outbound import DeliveryRefused, policy_from_config, post_webhook
from proxyapp.services.webhooks.signing import signature_headers
from proxyapp.services.webhooks.signing_keys import signing_secrets

log = logging.getLogger(__name__)
DELIVERY_JOB = "workers.webhooks.deliver"
DELIVERY_JOB_TIMEOUT = 60
RECENT_DELIVERIES = 20
# A pending delivery whose attempt is this overdue lost its job (Redis restart, enqueue failure): queue it again.
STALE_AFTER_SECONDS = 300
SWEEP_BATCH = 100


def retry_delay(attempts_made: int, base: float, cap: float) -> float:
    """Seconds before the next attempt after `attempts_made` failed ones: base, 2×base, 4×base … capped."""
    return min(cap, base * 2 ** min(attempts_made - 1, 32))


def retry_schedule(base: float, cap: float, window: float) -> list[float]:
    """Offsets (seconds after the event) of every retry the settings allow: the whole schedule."""
    offsets, elapsed, made = [], 0.0, 1
    while elapsed + retry_delay(made, base, cap) <= window:
        elapsed += retry_delay(made, base, cap)
        offsets.append(elapsed)
        made += 1
    return offsets


def record_delivery(user_id: int, url: str, event_type: str, payload: dict[str, Any], *,
                    prediction_id: str | None = None, batch_id: str | None = None) -> str:
    """Store a pending delivery and queue its first attempt; its id."""
    delivery = WebhookDelivery(id=new_prediction_id(), user_id=user_id, prediction_id=prediction_id,
                               batch_id=batch_id, event=event_type, url=url, host=urlsplit(url).hostname or "",
                               payload=payload, state=DeliveryState.PENDING.value, attempts=0,
                               next_attempt_at=utcnow())
    delivery_id = delivery.id
    db.session.add(delivery)
    db.session.commit()
    try:
        queue_attempt(delivery_id, 1)
    except RedisError:
        # The row stays pending: the reconciler queues it again (at least once).
        log.warning("could not queue a webhook delivery; the reconciler retries it", extra={"delivery_id": delivery_id},
                    exc_info=True)
    return delivery_id


def queue_attempt(delivery_id: str, attempt: int, delay: float = 0.0) -> None:
    """Queue attempt number `attempt`, now or (RQ's scheduled-job registry) after `delay` seconds.

    Not through `write_later`'s batch: RQ's enqueue opens a MULTI, which a batch that already
    holds commands cannot. Only rows with a webhook pay these round trips.
    """
    queue = get_queue()
    options = {"job_id": f"webhook-{delivery_id}-{attempt}", "job_timeout": DELIVERY_JOB_TIMEOUT, "result_ttl": 0,
               "failure_ttl": 7 * 24 * 3600, "description": f"webhook delivery {delivery_id} attempt {attempt}"}
    if delay > 0:
        queue.enqueue_in(timedelta(seconds=delay), DELIVERY_JOB, delivery_id, attempt, **options)
    else:
        queue.enqueue(DELIVERY_JOB, delivery_id, attempt, **options)


def _claim(delivery_id: str, attempt: int) -> Row | None:
    """Count this attempt if it is the next one of a pending delivery; its url, payload, account and age."""
    begin_write()
    row = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == DeliveryState.PENDING.value,
               WebhookDelivery.attempts == attempt - 1)
        .values(attempts=attempt, last_attempt_at=utcnow())
        .returning(WebhookDelivery.url, WebhookDelivery.payload, WebhookDelivery.user_id, WebhookDelivery.created_at)
    ).first()
    db.session.commit()
    return row


def attempt_delivery(delivery_id: str, attempt: int) -> str:
    """Send one attempt and record how it went; returns the outcome (`delivered`, `retrying`, …)."""
    claim = _claim(delivery_id, attempt)
    if claim is None:
        return "skipped"  # finished, or this attempt already ran
    body = json.dumps(claim.payload, separators=(",", ":")).encode()
    headers = signature_headers(delivery_id, int(time.time()), body, signing_secrets(claim.user_id))
    db.session.commit()  # no transaction held through the call
    try:
        status = post_webhook(claim.url, body, headers, policy_from_config(current_app.config))
    except DeliveryRefused:
        log.warning("webhook delivery refused (URL or address not allowed)", extra={"delivery_id": delivery_id})
        _finish(delivery_id, DeliveryState.REFUSED, error="refused")
        return DeliveryState.REFUSED.value
    except requests.RequestException as error:
        return _retry_or_give_up(delivery_id, attempt, claim.created_at, None, type(error).__name__)
    if 200 <= status < 300:
        _finish(delivery_id, DeliveryState.DELIVERED, status_code=status)
        return DeliveryState.DELIVERED.value
    return _retry_or_give_up(delivery_id, attempt, claim.created_at, status, f"http_{status}")


def _retry_or_give_up(delivery_id: str, attempt: int, created_at: datetime, status: int | None, error: str) -> str:
    config = current_app.config
    delay = retry_delay(attempt, config["WEBHOOK_BACKOFF_BASE"], config["WEBHOOK_BACKOFF_MAX"])
    now = utcnow()
    if now + timedelta(seconds=delay) > created_at + timedelta(seconds=config["WEBHOOK_RETRY_SECONDS"]):
        log.warning("webhook delivery given up after %d attempts (%s)", attempt, error, extra={"delivery_id": delivery_id})
        _finish(delivery_id, DeliveryState.GIVEN_UP, status_code=status, error=error)
        return DeliveryState.GIVEN_UP.value
    _record(delivery_id, status_code=status, last_error=error, next_attempt_at=now + timedelta(seconds=delay))
    queue_attempt(delivery_id, attempt + 1, delay)
    return "retrying"


def _finish(delivery_id: str, state: DeliveryState, *, status_code: int | None = None, error: str | None = None) -> None:
    _record(delivery_id, state=state.value, status_code=status_code, last_error=error, next_attempt_at=None,
            completed_at=utcnow())


def _record(delivery_id: str, **values: Any) -> None:
    begin_write()
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))
    db.session.commit()


def recent_deliveries(user_id: int, limit: int = RECENT_DELIVERIES) -> list[WebhookDelivery]:
    """The account's newest deliveries (for the account page)."""
    return list(db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.user_id == user_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)))


def requeue_stale_deliveries(now: datetime | None = None) -> int:
    """Queue again the pending deliveries whose attempt is long overdue; how many (the reconciler's pass)."""
    now = now or utcnow()
    stale = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts)
        .where(WebhookDelivery.state == DeliveryState.PENDING.value,
               WebhookDelivery.next_attempt_at < now - timedelta(seconds=STALE_AFTER_SECONDS))
        .limit(SWEEP_BATCH)).all()
    db.session.commit()
    for row in stale:
        _record(row.id, next_attempt_at=now)  # not swept again before the new attempt is overdue too
        queue_attempt(row.id, row.attempts + 1)
    return len(stale)


def purge_old_deliveries(now: datetime | None = None) -> int:
    """Delete deliveries made more than RESULT_RETENTION_DAYS ago; how many went."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["RESULT_RETENTION_DAYS"])
    begin_write()
    result = db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.created_at < cutoff))
    db.session.commit()
    return result.rowcount


def forget_account_deliveries(user_id: int) -> None:
    """Delete the account's deliveries and signing key, in the caller's write transaction (account deletion)."""
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.user_id == user_id))
    db.session.execute(delete(WebhookSigningKey).where(WebhookSigningKey.user_id == user_id))
