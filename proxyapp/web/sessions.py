"""Signed-in sessions: Flask-Login wiring, renewal at login, idle expiry, forced sign-out.

Sessions are permanent cookies that live `PERMANENT_SESSION_LIFETIME` (the idle timeout)
and are re-signed on every request, so they end after that long without activity; the
signature's timestamp enforces it server-side too. Each session stores the account's
`session_version`: a password change bumps it and so ends every other session.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, session
from flask_login import current_user, login_user, logout_user

from proxyapp.extensions import db, login_manager
from proxyapp.models import User
from proxyapp.services.accounts import record_login

SESSION_VERSION_KEY = "_version"


def configure_sessions(app: Flask) -> None:
    """Tell Flask-Login how to load the signed-in user and where to send anonymous ones."""
    login_manager.user_loader(load_session_user)
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"


def load_session_user(user_id: str) -> User | None:
    """The session's user, unless the account is gone, disabled, or its sessions were ended."""
    user = db.session.get(User, int(user_id))
    if user is None or user.is_disabled or session.get(SESSION_VERSION_KEY) != user.session_version:
        return None
    return user


def start_session(user: User) -> None:
    """Sign the user in on a fresh session (nothing carried over from before login)."""
    session.clear()
    session.permanent = True
    login_user(user, remember=False)
    session[SESSION_VERSION_KEY] = user.session_version
    record_login(user)


def end_session() -> None:
    """Sign out and forget everything in the session."""
    logout_user()
    session.clear()


def safe_next(target: str | None) -> str | None:
    """A post-login redirect target if it stays on this site (a path), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def no_store(response: Response) -> Response:
    """Keep pages with account data out of every cache (browser back button included)."""
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response
