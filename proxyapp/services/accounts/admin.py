"""Administrators' actions on accounts; each one is written to the audit trail."""

from __future__ import annotations

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select

from proxyapp.database import begin_write
from proxyapp.errors import Forbidden, NotFound
from proxyapp.extensions import db
from proxyapp.models import ApiKey, User, utcnow
from proxyapp.services.accounts.audit import AuditAction, record_event
from proxyapp.services.keys.lifecycle import find_owned_key

USERS_PER_PAGE = 25


class AdminActionRefused(Forbidden):
    """An admin action that would do harm (e.g. locking oneself out); the message says why."""


def list_users(search: str = "", page: int = 1, per_page: int = USERS_PER_PAGE) -> Pagination:
    """One page of accounts, by username, optionally filtered by a username fragment."""
    query = select(User).order_by(User.username)
    if search.strip():
        query = query.where(User.username.contains(search.strip().lower(), autoescape=True))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def get_user(user_id: int) -> User:
    """The account with this id; 404 if there is none."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No account with this id.")
    return user


def set_disabled(actor: User | None, target: User, disabled: bool) -> None:
    """Disable (no login; keys get 403) or re-enable an account; actor None is the command line."""
    if actor is not None and actor.id == target.id:
        raise AdminActionRefused("You cannot disable or enable your own account.")
    if target.is_disabled == disabled:
        return
    begin_write()
    target.is_disabled = disabled
    record_event(actor, AuditAction.USER_DISABLED if disabled else AuditAction.USER_ENABLED, target)
    db.session.commit()


def set_limits(actor: User | None, target: User, rate_limit: str | None, max_pending: int | None) -> None:
    """Set the account's rate limit and pending cap (None: the configured default; actor None: the CLI)."""
    changes = {
        name: {"from": before, "to": after}
        for name, before, after in (
            ("rate_limit", target.rate_limit, rate_limit),
            ("max_pending", target.max_pending, max_pending),
        )
        if before != after
    }
    if not changes:
        return
    begin_write()
    target.rate_limit, target.max_pending = rate_limit, max_pending
    record_event(actor, AuditAction.LIMITS_CHANGED, target, changes)
    db.session.commit()


def revoke_key(actor: User | None, target: User, key_id: int) -> ApiKey:
    """Revoke one of the account's keys at once (it gets 401 from now on); the account stays as it is.

    404 for a key of another account; revoking a revoked key changes nothing and audits nothing.
    """
    api_key = find_owned_key(target, key_id)
    if api_key.revoked_at is not None:
        return api_key
    begin_write()
    api_key.revoked_at = utcnow()
    record_event(actor, AuditAction.KEY_REVOKED, target,
                 {"key": {"from": f"{api_key.name} ({api_key.display_prefix}…)", "to": "revoked"}})
    db.session.commit()
    return api_key
