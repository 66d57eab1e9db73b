"""Signed-in sessions: Flask-Login wiring, renewal at login, idle and absolute expiry, sign-out.

Sessions are permanent cookies that live `PERMANENT_SESSION_LIFETIME` (the idle timeout)
and are re-signed on every request. The cookie holds the token of a server-side session
row (proxyapp.services.signin.sessions): signing out deletes the row, so a copy of the
cookie taken before opens nothing afterwards, and the row also ends the session
`SESSION_ABSOLUTE_LIFETIME` after sign-in however active it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request, session
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user

from proxyapp.extensions import login_manager
from proxyapp.models import User
from proxyapp.services.signin import sessions as login_sessions

SESSION_TOKEN_KEY = "_token"


def configure_sessions(app: Flask) -> None:
    """Tell Flask-Login how to load the signed-in user and where to send anonymous ones."""
    login_manager.user_loader(load_session_user)
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"


def load_session_user(user_id: str) -> User | None:
    """The session's user, unless the account is gone or disabled or the session has ended."""
    token = _token()
    if token is None or not user_id.isdigit():
        return None
    user = login_sessions.session_user(token, int(user_id))
    if user is None or user.is_disabled:
        return None
    return user


def start_session(user: User) -> None:
    """Sign the user in on a fresh session (nothing carried over from before login)."""
    _end_server_side()
    token = login_sessions.open_session(user, request.user_agent.string, get_remote_address())
    session.clear()
    session.permanent = True
    login_user(user, remember=False)
    session[SESSION_TOKEN_KEY] = token


def end_session() -> None:
    """Sign out: the server-side session ends, and the cookie forgets everything."""
    _end_server_side()
    logout_user()
    session.clear()


def is_current_session(token_hash: str) -> bool:
    """True if a session row is the one of this request (the account page marks it)."""
    token = _token()
    return token is not None and login_sessions.hash_token(token) == token_hash


def _token() -> str | None:
    """This request's session token, if its cookie carries one."""
    token = session.get(SESSION_TOKEN_KEY)
    return token if isinstance(token, str) else None


def _end_server_side() -> None:
    if (token := _token()) is not None:
        login_sessions.end_session(token)


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
