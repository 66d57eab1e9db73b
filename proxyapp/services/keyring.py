"""An account's keys over their lifetime: create (capped), rotate with a grace period, revoke.

Rotation issues a new key under the same name and gives the old one an expiry
(`KEY_ROTATION_GRACE_SECONDS` away), so clients can switch over without downtime; after
that the old key gets 401 like a revoked one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from flask import current_app
from sqlalchemy import func, or_, select

from proxyapp.database import begin_write
from proxyapp.errors import APIError
from proxyapp.extensions import db
from proxyapp.models import ApiKey, User, utcnow
from proxyapp.services.keys import IssuedKey, issue_key


class KeyStatus(str, Enum):
    """What a key can do now, as the account page shows it."""

    ACTIVE = "active"
    ROTATING = "rotating"  # replaced, still accepted until its grace period ends
    EXPIRED = "expired"
    REVOKED = "revoked"


class KeyActionRefused(Exception):
    """A key action the account may not take; the message says why."""


@dataclass(frozen=True)
class Rotation:
    """The key that replaces a rotated one (shown once) and the old key, now expiring."""

    new: IssuedKey
    old: ApiKey


def key_status(api_key: ApiKey, now: datetime | None = None) -> KeyStatus:
    """The key's status at `now`."""
    now = now or utcnow()
    if api_key.revoked_at is not None:
        return KeyStatus.REVOKED
    if api_key.expires_at is None:
        return KeyStatus.ACTIVE
    return KeyStatus.ROTATING if api_key.expires_at > now else KeyStatus.EXPIRED


def list_keys(user: User) -> list[tuple[ApiKey, KeyStatus]]:
    """The account's keys, newest first, each with its status."""
    query = select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    now = utcnow()
    return [(api_key, key_status(api_key, now)) for api_key in db.session.scalars(query)]


def count_usable_keys(user: User) -> int:
    """Keys that authenticate right now (active, or rotating within their grace period)."""
    query = select(func.count()).select_from(ApiKey).where(
        ApiKey.user_id == user.id,
        ApiKey.revoked_at.is_(None),
        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
    )
    return db.session.scalar(query)


def _ensure_room_for_a_key(user: User) -> None:
    """Refuse a new key when the account already holds MAX_KEYS_PER_ACCOUNT usable ones."""
    cap = current_app.config["MAX_KEYS_PER_ACCOUNT"]
    if count_usable_keys(user) >= cap:
        raise KeyActionRefused(
            f"You already have {cap} usable keys (keys in their rotation grace period count too). "
            "Revoke one you no longer need first."
        )


def create_named_key(user: User, name: str) -> IssuedKey:
    """Issue and store a new named key, within the per-account cap."""
    begin_write()  # the key count and the insert in one write transaction
    _ensure_room_for_a_key(user)
    issued = issue_key(user, name.strip())
    db.session.commit()
    return issued


def find_owned_key(user: User, key_id: int) -> ApiKey:
    """The user's key; 404 both when missing and when it belongs to someone else."""
    api_key = db.session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
    if api_key is None:
        raise APIError(404, "No key with this id.")
    return api_key


def revoke_key(user: User, key_id: int) -> ApiKey:
    """Revoke one of the user's keys at once (idempotent); it then gets 401."""
    api_key = find_owned_key(user, key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        db.session.commit()
    return api_key


def rotate_key(user: User, key_id: int) -> Rotation:
    """Replace a usable key with a new one of the same name; the old one lasts the grace period."""
    old = find_owned_key(user, key_id)
    if not old.is_usable():
        raise KeyActionRefused("This key is revoked or expired; create a new key instead.")
    _ensure_room_for_a_key(user)
    grace_end = utcnow() + timedelta(seconds=current_app.config["KEY_ROTATION_GRACE_SECONDS"])
    # Rotating a key that is already rotating never extends its life.
    old.expires_at = min(old.expires_at, grace_end) if old.expires_at else grace_end
    new = issue_key(user, old.name)
    db.session.commit()
    return Rotation(new=new, old=old)
