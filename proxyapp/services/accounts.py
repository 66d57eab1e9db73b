"""Accounts: registration and credential checks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from proxyapp.extensions import db
from proxyapp.models import User
from proxyapp.services.keys import IssuedKey, issue_key
from proxyapp.services.passwords import hash_password, verify_password

FIRST_KEY_NAME = "default"
# Verifying against a real hash when the user is unknown keeps response times alike,
# so timing does not reveal which usernames exist.
_DUMMY_PASSWORD = "not-a-real-password-used-for-timing-only"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(_DUMMY_PASSWORD)


class UsernameTaken(Exception):
    """Registration failed because the username is already in use."""


@dataclass(frozen=True)
class Registration:
    """A new account and its first key, shown once."""

    user: User
    first_key: IssuedKey


def normalize_username(username: str) -> str:
    """Usernames are case-insensitive; store and compare them lowercased."""
    return username.strip().lower()


def find_user(username: str) -> User | None:
    """The user with this username, or None."""
    return db.session.scalar(select(User).where(User.username == normalize_username(username)))


def username_exists(username: str) -> bool:
    """True if the username is taken."""
    query = select(func.count()).select_from(User).where(User.username == normalize_username(username))
    return bool(db.session.scalar(query))


def register_user(username: str, password: str, email: str | None = None) -> Registration:
    """Create an account with its first API key; raises UsernameTaken on a race."""
    user = User(username=normalize_username(username), email=email or None, password_hash=hash_password(password))
    db.session.add(user)
    first_key = issue_key(user, FIRST_KEY_NAME)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise UsernameTaken(username) from None
    return Registration(user=user, first_key=first_key)


def authenticate(username: str, password: str) -> User | None:
    """The user if the credentials are right, else None; same cost either way."""
    user = find_user(username)
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None
