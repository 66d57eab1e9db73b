"""Accounts: registration, credential checks, password changes and deletion."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from proxyapp.database import begin_write
from proxyapp.errors import Conflict, Forbidden
from proxyapp.extensions import db
from proxyapp.models import Prediction, User
from proxyapp.services.accounts.audit import AuditAction, record_event
from proxyapp.services.accounts.passwords import hash_password, password_problem, verify_password
from proxyapp.services.accounts.redis_index import forget_account
from proxyapp.services.keys.tokens import IssuedKey, issue_key
from proxyapp.services.signin.sessions import delete_sessions
from proxyapp.services.webhooks.deliveries import forget_account_deliveries

FIRST_KEY_NAME = "default"
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
MIN_USERNAME_LENGTH = 3
MAX_USERNAME_LENGTH = 32
# Verifying against a real hash when the user is unknown keeps response times alike,
# so timing does not reveal which usernames exist.
_DUMMY_PASSWORD = "not-a-real-password-used-for-timing-only"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(_DUMMY_PASSWORD)


class UsernameTaken(Conflict):
    """Registration failed because the username is already in use."""

    description = "This username is taken."


class WrongPassword(Forbidden):
    """The current password given to confirm an action is wrong."""

    description = "The password is wrong."


class InvalidCredentials(ValueError):
    """A username or password breaks the policy; the message says how."""


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
        begin_write()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise UsernameTaken() from None
    return Registration(user=user, first_key=first_key)


def authenticate(username: str, password: str) -> User | None:
    """The user if the credentials are right, else None; same cost either way."""
    user = find_user(username)
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


def _confirm_password(user: User, password: str) -> None:
    if not verify_password(user.password_hash, password):
        raise WrongPassword()


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Set a new password (the current one required) and end every session of the user.

    The caller signs the person in again on a fresh session: only the browser that changed
    the password stays signed in.
    """
    _confirm_password(user, current_password)
    password_hash = hash_password(new_password)
    begin_write()
    user.password_hash = password_hash
    delete_sessions(user)
    db.session.commit()


def delete_account(user: User, password: str) -> None:
    """Delete the account (password required) with its keys, predictions, webhook deliveries and data."""
    _confirm_password(user, password)
    # Redis first: if it is down the deletion fails (503) and nothing of the account lingers there.
    forget_account(user.id)
    # Predictions have no ORM relationship to cascade through, so they go explicitly; the
    # keys go with the user (relationship cascade), and audit rows keep only the name.
    begin_write()
    db.session.execute(delete(Prediction).where(Prediction.user_id == user.id))
    forget_account_deliveries(user.id)
    db.session.delete(user)
    db.session.commit()


def username_problem(username: str) -> str | None:
    """Why a username is unacceptable, or None."""
    if not MIN_USERNAME_LENGTH <= len(username) <= MAX_USERNAME_LENGTH:
        return f"Use between {MIN_USERNAME_LENGTH} and {MAX_USERNAME_LENGTH} characters."
    if not re.match(USERNAME_PATTERN, username):
        return "Use letters, digits, dots, dashes and underscores only."
    return None


def create_admin(username: str, password: str) -> User:
    """Create an administrator account (no API key), recorded in the audit trail."""
    problem = username_problem(username) or password_problem(password, username)
    if problem:
        raise InvalidCredentials(problem)
    password_hash = hash_password(password)  # slow by design: before the write lock is taken
    begin_write()
    if username_exists(username):
        raise UsernameTaken()
    user = User(username=normalize_username(username), password_hash=password_hash, is_admin=True)
    db.session.add(user)
    db.session.flush()
    record_event(None, AuditAction.ADMIN_CREATED, user)
    db.session.commit()
    return user
