"""An account's keys over their lifetime: create (capped, optionally expiring), rotate with a
grace period, revoke.

A key may be created with an expiry date its owner chooses (at most `KEY_MAX_LIFETIME_DAYS`
ahead). Rotation issues a new key under the same name and expiry, and gives the old one an
expiry `KEY_ROTATION_GRACE_SECONDS` away (or keeps its own, if sooner), so clients can switch
over without downtime. Past its expiry a key gets 401 `key_expired`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum

from flask import current_app
from sqlalchemy import func, or_, select

from proxyapp.database import begin_write
from proxyapp.errors import Conflict, NotFound
from proxyapp.extensions import db
from proxyapp.models import ApiKey, Prediction, User, utcnow
from proxyapp.services.keys.tokens import IssuedKey, issue_key


class KeyStatus(str, Enum):
    """What a key can do now, as the account page shows it."""

    ACTIVE = "active"
    ROTATING = "rotating"  # replaced, still accepted until its grace period ends
    EXPIRED = "expired"
    REVOKED = "revoked"


class KeyActionRefused(Conflict):
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
    if api_key.expires_at is not None and api_key.expires_at <= now:
        return KeyStatus.EXPIRED
    return KeyStatus.ROTATING if api_key.rotated_at is not None else KeyStatus.ACTIVE


def expiry_of(expires_on: date) -> datetime:
    """The moment a key chosen to expire on `expires_on` stops working: 00:00 UTC that day."""
    return datetime.combine(expires_on, time(0), tzinfo=UTC)


def expiry_date_range(today: date | None = None) -> tuple[date, date]:
    """The earliest and latest expiry dates a new key may have (tomorrow .. KEY_MAX_LIFETIME_DAYS)."""
    today = today or utcnow().date()
    return today + timedelta(days=1), today + timedelta(days=current_app.config["KEY_MAX_LIFETIME_DAYS"])


def expiry_problem(expires_on: date, today: date | None = None) -> str | None:
    """Why `expires_on` cannot be a new key's expiry date, or None if it can."""
    earliest, latest = expiry_date_range(today)
    if expires_on < earliest:
        return (f"Choose a date after today ({earliest - timedelta(days=1):%Y-%m-%d}, UTC): "
                "the key stops working at 00:00 UTC on the date you choose.")
    if expires_on > latest:
        return f"Choose a date at most {current_app.config['KEY_MAX_LIFETIME_DAYS']} days ahead (by {latest:%Y-%m-%d})."
    return None


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


def create_named_key(user: User, name: str, expires_on: date | None = None) -> IssuedKey:
    """Issue and store a new named key, within the per-account cap, expiring on `expires_on` if given."""
    if expires_on is not None and (problem := expiry_problem(expires_on)):
        raise KeyActionRefused(problem)
    begin_write()  # the key count and the insert in one write transaction
    _ensure_room_for_a_key(user)
    issued = issue_key(user, name.strip(), expires_at=expiry_of(expires_on) if expires_on else None)
    db.session.commit()
    return issued


def find_owned_key(user: User, key_id: int) -> ApiKey:
    """The user's key; 404 both when missing and when it belongs to someone else."""
    api_key = db.session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
    if api_key is None:
        raise NotFound("No key with this id.")
    return api_key


def revoke_key(user: User, key_id: int) -> ApiKey:
    """Revoke one of the user's keys at once (idempotent); it then gets 401."""
    api_key = find_owned_key(user, key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        db.session.commit()
    return api_key


def rotation_grace_end(api_key: ApiKey, now: datetime | None = None) -> datetime:
    """When the key would stop working if rotated at `now`: never later than its own expiry."""
    grace_end = (now or utcnow()) + timedelta(seconds=current_app.config["KEY_ROTATION_GRACE_SECONDS"])
    return min(api_key.expires_at, grace_end) if api_key.expires_at else grace_end


def rotate_key(user: User, key_id: int) -> Rotation:
    """Replace a usable key with a new one of the same name; the old one lasts the grace period."""
    old = find_owned_key(user, key_id)
    if not old.is_usable():
        raise KeyActionRefused("This key is revoked or expired; create a new key instead.")
    _ensure_room_for_a_key(user)
    now = utcnow()
    # The replacement keeps the expiry its owner chose; a grace end is no choice of theirs.
    new = issue_key(user, old.name, expires_at=None if old.rotated_at else old.expires_at)
    old.expires_at = rotation_grace_end(old, now)
    old.rotated_at = old.rotated_at or now
    db.session.commit()
    return Rotation(new=new, old=old)


def submitting_key(prediction: Prediction) -> ApiKey | None:
    """The key a prediction was submitted with, or None once that key is gone."""
    return db.session.get(ApiKey, prediction.api_key_id) if prediction.api_key_id is not None else None
