"""SQLAlchemy models: users, their API keys, and their predictions."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from proxyapp.crypto import decrypt_json, encrypt_json
from proxyapp.extensions import db

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_prediction_id() -> str:
    """A 26-character, time-ordered id (48-bit milliseconds + 80 random bits, base32)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (SQLite has no time zones) and always returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class JSONText(TypeDecorator):
    """A JSON document stored as text; the single place patient data is (de)serialised."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


class EncryptedJSON(JSONText):
    """Patient data: JSON encrypted with the app's data key (see proxyapp.crypto)."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else encrypt_json(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else decrypt_json(value)


class PredictionStatus(str, Enum):
    """Lifecycle of a prediction; the last three are terminal."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """True for states a prediction never leaves."""
        return self in TERMINAL_STATUSES


class PredictionKind(str, Enum):
    """Which upstream endpoint a prediction row is run against."""

    PREDICTION = "prediction"  # POST /predict
    EMBEDDING = "embedding"  # POST /embeddings


TERMINAL_STATUSES = frozenset({PredictionStatus.SUCCEEDED, PredictionStatus.FAILED, PredictionStatus.CANCELED})
PENDING_STATUSES = frozenset({PredictionStatus.QUEUED, PredictionStatus.RUNNING})


class User(UserMixin, db.Model):
    """A person with a web login and API keys."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    # Set when the person opened a verification link sent to `email`; reset mail goes only to a verified one.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_disabled: Mapped[bool] = mapped_column(default=False)
    rate_limit: Mapped[str | None] = mapped_column(String(64))
    max_pending: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No longer read: sign-in sessions are rows in user_sessions, deleted to end them.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses sessions of disabled accounts."""
        return not self.is_disabled


class UserSession(db.Model):
    """A signed-in browser session. The cookie carries a random token; only its SHA-256 is
    stored, so a copy of the database opens no session. Signing out deletes the row."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most once a minute (see proxyapp.services.signin.sessions.TOUCH_INTERVAL).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    device: Mapped[str] = mapped_column(String(64), default="")  # "Firefox on Linux", not the raw User-Agent
    # The client address at sign-in (personal data: shown to the account's owner only, gone with the row).
    ip_address: Mapped[str | None] = mapped_column(String(45))


class AccountToken(db.Model):
    """A single-use link sent by mail (password reset, email verification). Only the SHA-256 of
    its random token is stored, so a copy of the database opens nothing."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # proxyapp.services.accounts.tokens.TokenPurpose
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))  # the address a verification link confirms
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TwoFactor(db.Model):
    """An account's TOTP secret (encrypted at rest). Unconfirmed while enrolment waits for a first code."""

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(EncryptedJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: enrolment not finished
    # The newest time step a code was accepted for: that code, and older ones, are refused (replay).
    last_step: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(db.Model):
    """A one-time recovery code: a salted SHA-256 of it, and when it was used."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(db.Model):
    """An API key: only its SHA-256 hash and a display prefix are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the key stops authenticating: the expiry its owner chose, or the end of a rotation's
    # grace period, whichever comes first. One column, so authentication checks one time.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the key was replaced by rotation: tells a grace period from an owner's expiry.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="api_keys")

    def is_usable(self, now: datetime | None = None) -> bool:
        """True unless the key is revoked or past its expiry (its owner's, or a rotation's grace)."""
        now = now or utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Prediction(db.Model):
    """One prediction request, its state, and its result; the client's source of truth."""

    __tablename__ = "predictions"
    __table_args__ = (
        # The listing (`WHERE user_id = ? [AND status = ?] ORDER BY id DESC`) reads these in
        # order, and the pending count uses the second: no sort of the caller's rows.
        Index("ix_predictions_user_id_id", "user_id", "id"),
        Index("ix_predictions_user_status_id", "user_id", "status", "id"),
        # The usage page reads one account's last 30 days by creation time.
        Index("ix_predictions_user_id_created_at", "user_id", "created_at"),
        # The reconciler scans pending rows by age, and retention scans finished rows by age.
        Index("ix_predictions_status_created_at", "status", "created_at"),
        Index("ix_predictions_completed_at", "completed_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_prediction_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=PredictionKind.PREDICTION.value,
                                      server_default=PredictionKind.PREDICTION.value)
    status: Mapped[str] = mapped_column(String(16), default=PredictionStatus.QUEUED.value)
    # Answered from the result cache: no upstream call was made for this row.
    cached: Mapped[bool] = mapped_column(default=False, server_default=false())
    input: Mapped[Any | None] = mapped_column(EncryptedJSON)  # None once purged after retention
    output: Mapped[Any | None] = mapped_column(EncryptedJSON)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Worker runs started (RQ delivers at least once; lost runs are re-run up to MAX_RUNS).
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    upstream_ms: Mapped[int | None] = mapped_column(Integer)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where to send events, and which (comma-separated WebhookEvent values); None: no webhook.
    webhook: Mapped[str | None] = mapped_column(String(2048))
    webhook_events: Mapped[str | None] = mapped_column(String(64))
    # The origin the submission came in on: absolute links in payloads built by workers (no request there).
    webhook_origin: Mapped[str | None] = mapped_column(String(255))

    @property
    def state(self) -> PredictionStatus:
        """The status as an enum."""
        return PredictionStatus(self.status)

    @property
    def queue_ms(self) -> int | None:
        """Milliseconds between acceptance and a worker picking it up."""
        if self.started_at is None:
            return None
        return int((self.started_at - self.created_at).total_seconds() * 1000)


class Batch(db.Model):
    """Predictions submitted together; each item is an ordinary prediction row."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_prediction_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    webhook: Mapped[str | None] = mapped_column(String(2048))
    webhook_events: Mapped[str | None] = mapped_column(String(64))
    # The origin the submission came in on: absolute links in payloads built by workers (no request there).
    webhook_origin: Mapped[str | None] = mapped_column(String(255))
    # Set once, when the last item turned terminal: the batch's `completed` event goes out once.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(db.Model):
    """An administrative action: who did what to whom, and when. Names are copied so the
    trail survives the deletion of either account."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_username: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[Any | None] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookSigningKey(db.Model):
    """An account's webhook signing secret (encrypted at rest), and the rotated one in its grace period."""

    __tablename__ = "webhook_signing_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(EncryptedJSON)
    previous_secret: Mapped[str | None] = mapped_column(EncryptedJSON)
    previous_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryState(str, Enum):
    """Where a webhook delivery stands; all but `pending` are final."""

    PENDING = "pending"  # an attempt is queued or scheduled
    DELIVERED = "delivered"  # the receiver answered 2xx
    GIVEN_UP = "given_up"  # retried for WEBHOOK_RETRY_SECONDS without a 2xx
    REFUSED = "refused"  # the URL or its address is not one we call: never retried


class WebhookDelivery(db.Model):
    """One event for one URL: its payload (never input or output) and how its attempts went.

    Its id is the `webhook-id` of every attempt, so receivers can drop repeats.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_user_id_created_at", "user_id", "created_at"),
        Index("ix_webhook_deliveries_created_at", "created_at"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),  # the reconciler's sweep
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_prediction_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    prediction_id: Mapped[str | None] = mapped_column(String(26), index=True)
    batch_id: Mapped[str | None] = mapped_column(String(26))
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(255))
    payload: Mapped[Any] = mapped_column(JSONText)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(64))  # an error class or reason code, never a body
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
