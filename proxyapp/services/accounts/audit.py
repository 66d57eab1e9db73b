"""The audit trail of administrative and security actions: who did what to whom, and when."""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import select

from proxyapp.extensions import db
from proxyapp.models import AuditEvent, User

RECENT_EVENTS = 20
CLI_ACTOR = "cli"  # actions taken from the command line have no signed-in actor


class AuditAction(str, Enum):
    """Actions written to the audit trail."""

    ADMIN_CREATED = "admin.created"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    LIMITS_CHANGED = "user.limits_changed"
    TWO_FACTOR_ENABLED = "two_factor.enabled"
    TWO_FACTOR_DISABLED = "two_factor.disabled"
    RECOVERY_CODE_USED = "two_factor.recovery_code_used"
    RECOVERY_CODES_REGENERATED = "two_factor.recovery_codes_regenerated"
    PASSWORD_RESET = "user.password_reset"  # with a reset link (the person is the actor)
    PASSWORD_SET = "user.password_set"  # by the operator's command
    PASSWORD_RESET_LINK = "user.password_reset_link"  # a one-time link handed out by an operator
    PASSWORD_RESET_MAILED = "user.password_reset_mailed"  # a reset mail an administrator sent
    KEY_REVOKED = "key.revoked"


def record_event(actor: User | None, action: AuditAction, target: User | None,
                 details: dict[str, Any] | None = None) -> AuditEvent:
    """Add an audit row to the session; the caller commits it with the action it describes."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_username=actor.username if actor else CLI_ACTOR,
        action=action.value,
        target_user_id=target.id if target else None,
        target_username=target.username if target else None,
        details=details,
    )
    db.session.add(event)
    return event


def recent_events(target: User | None = None, limit: int = RECENT_EVENTS) -> list[AuditEvent]:
    """The newest audit rows, all of them or those about one user."""
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)
    if target is not None:
        query = query.where(AuditEvent.target_user_id == target.id)
    return list(db.session.scalars(query))
