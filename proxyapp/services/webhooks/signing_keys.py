"""Each account's webhook signing secret (encrypted at rest) and its rotation with a grace period."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.models import WebhookSigningKey, utcnow
from proxyapp.services.webhooks.signing import new_secret


def signing_key(user_id: int) -> WebhookSigningKey:
    """The account's signing key, made on first use."""
    key = db.session.get(WebhookSigningKey, user_id)
    if key is not None:
        return key
    begin_write()  # check again under the write lock: two first uses must not both insert
    key = db.session.get(WebhookSigningKey, user_id)
    if key is None:
        key = WebhookSigningKey(user_id=user_id, secret=new_secret())
        db.session.add(key)
        try:
            db.session.commit()
        except IntegrityError:  # PostgreSQL: a concurrent first use inserted it
            db.session.rollback()
            key = db.session.get(WebhookSigningKey, user_id)
    return key


def is_in_grace(key: WebhookSigningKey, now: datetime | None = None) -> bool:
    """Whether the rotated secret still signs."""
    return bool(key.previous_secret and key.previous_expires_at and key.previous_expires_at > (now or utcnow()))


def signing_secrets(user_id: int, now: datetime | None = None) -> list[str]:
    """The secrets that sign a delivery now: the current one, then the rotated one during its grace."""
    key = signing_key(user_id)
    return [key.secret, key.previous_secret] if is_in_grace(key, now) else [key.secret]


def rotate_signing_secret(user_id: int) -> WebhookSigningKey:
    """A new current secret; the old one keeps signing for WEBHOOK_SECRET_GRACE_SECONDS (a rotation before
    that ends the older grace early)."""
    key = signing_key(user_id)
    now = utcnow()
    begin_write()
    db.session.refresh(key)  # rotate what is stored now, under the write lock
    key.previous_secret, key.secret = key.secret, new_secret()
    key.previous_expires_at = now + timedelta(seconds=current_app.config["WEBHOOK_SECRET_GRACE_SECONDS"])
    key.rotated_at = now
    db.session.commit()
    return key
