"""Sign-in sessions kept server side: opened at sign-in, checked on every request, ended by deletion.

The session cookie is signed, so it cannot be forged, but a copy of it stays valid for as
long as the server accepts it. Each sign-in therefore gets a row; the cookie carries the
row's random token, and a request is signed in only while the row exists, is younger than
SESSION_ABSOLUTE_LIFETIME and was seen within PERMANENT_SESSION_LIFETIME (the idle timeout).
Signing out, "sign out everywhere" and a password change delete rows: a replayed cookie
then finds nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.models import User, UserSession, utcnow

# last_seen_at is written at most this often: a session costs one indexed read per request,
# and a write only once a minute. The idle check allows for that much lag.
TOUCH_INTERVAL = timedelta(minutes=1)
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Chromium/", "Chromium"), ("Safari/", "Safari"), ("curl/", "curl"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def hash_token(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def describe_device(user_agent: str | None) -> str:
    """A short, human summary of a User-Agent ("Firefox on Linux"); the raw string is not kept."""
    agent = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"


def _limits() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return config["PERMANENT_SESSION_LIFETIME"], config["SESSION_ABSOLUTE_LIFETIME"]


def _live(now: datetime) -> tuple:
    """SQL conditions of a session that has neither idled out nor outlived its absolute lifetime."""
    idle, absolute = _limits()
    return UserSession.created_at > now - absolute, UserSession.last_seen_at > now - idle - TOUCH_INTERVAL


def open_session(user: User, user_agent: str | None, ip_address: str | None = None) -> str:
    """Record a sign-in (and the account's last sign-in time); returns the token for the cookie.

    The account's expired rows go in the same write, so rows never pile up.
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    begin_write()
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                                 or_(*(~condition for condition in _live(now)))))
    db.session.add(UserSession(user_id=user.id, token_hash=hash_token(token), created_at=now, last_seen_at=now,
                               device=describe_device(user_agent)[:64],
                               ip_address=ip_address[:45] if ip_address else None))
    user.last_login_at = now
    db.session.commit()
    return token


def session_user(token: str, user_id: int) -> User | None:
    """The user of a live session with this token (one indexed read), else None."""
    now = utcnow()
    row = db.session.execute(
        select(UserSession.id, UserSession.last_seen_at, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == hash_token(token), UserSession.user_id == user_id, *_live(now))
    ).one_or_none()
    if row is None:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        begin_write()
        db.session.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
        db.session.commit()
    return row.User


def end_session(token: str) -> None:
    """End one session (signing out): its cookie opens nothing from now on."""
    begin_write()
    db.session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(token)))
    db.session.commit()


def delete_sessions(user: User) -> None:
    """Delete every session of the account within the caller's transaction (which must commit)."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def end_all_sessions(user: User) -> None:
    """End every session of the account, on every device."""
    begin_write()
    delete_sessions(user)
    db.session.commit()


def end_own_session(user: User, session_id: int) -> bool:
    """End one session of the account by its id; False if the account has no such session."""
    begin_write()
    ended = db.session.execute(delete(UserSession).where(UserSession.id == session_id,
                                                         UserSession.user_id == user.id)).rowcount
    db.session.commit()
    return ended == 1


def live_sessions(user: User) -> list[UserSession]:
    """The account's sessions that still open pages, most recently seen first."""
    query = (select(UserSession).where(UserSession.user_id == user.id, *_live(utcnow()))
             .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()))
    return list(db.session.scalars(query))
