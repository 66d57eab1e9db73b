"""Single-use, expiring links sent by mail: password resets and email verifications.

The link carries `secrets.token_urlsafe(32)` (256 bits); the database keeps only its SHA-256,
so a copy of the database opens nothing. A token works once, until `expires_at`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import Enum

from sqlalchemy import delete, or_, select, update

from proxyapp.errors import NotFound
from proxyapp.extensions import db
from proxyapp.models import AccountToken, User, utcnow
from proxyapp.services.signin.sessions import hash_token

# Used and expired rows are kept this long (so a late click says "used" or "expired"), then deleted.
KEEP_SPENT = timedelta(days=7)


class TokenPurpose(str, Enum):
    """What a mailed link does."""

    PASSWORD_RESET = "password_reset"
    VERIFY_EMAIL = "verify_email"


class TokenRefused(NotFound):
    """A link that cannot be used; `reason` is `unknown`, `used`, `expired` or `superseded`."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This link cannot be used: it is {reason}.")
        self.reason = reason


def issue_token(user: User, purpose: TokenPurpose, lifetime: timedelta, email: str | None = None) -> str:
    """Add a token row to the session (the caller commits); returns the plaintext for the link.

    The account's long-spent rows go in the same write, so rows never pile up.
    """
    now = utcnow()
    db.session.execute(delete(AccountToken).where(
        AccountToken.user_id == user.id,
        or_(AccountToken.expires_at < now - KEEP_SPENT, AccountToken.used_at < now - KEEP_SPENT)))
    token = secrets.token_urlsafe(32)
    db.session.add(AccountToken(user_id=user.id, purpose=purpose.value, token_hash=hash_token(token),
                                email=email, created_at=now, expires_at=now + lifetime))
    return token


def find_token(purpose: TokenPurpose, token: str) -> AccountToken:
    """The usable token row of this plaintext; raises TokenRefused saying why not."""
    row = db.session.scalar(select(AccountToken).where(AccountToken.token_hash == hash_token(token),
                                                       AccountToken.purpose == purpose.value))
    if row is None:
        raise TokenRefused("unknown")
    if row.used_at is not None:
        raise TokenRefused("used")
    if row.expires_at <= utcnow():
        raise TokenRefused("expired")
    return row


def spend_token(row: AccountToken) -> None:
    """Mark a token used inside the caller's transaction; TokenRefused if another request was first."""
    now = utcnow()
    spent = db.session.execute(update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None),
                                                          AccountToken.expires_at > now).values(used_at=now))
    if spent.rowcount != 1:
        raise TokenRefused("used")


def spend_all(user: User, purpose: TokenPurpose) -> None:
    """Mark every open token of the account for this purpose used (a reset cancels the others)."""
    db.session.execute(update(AccountToken).where(AccountToken.user_id == user.id,
                                                  AccountToken.purpose == purpose.value,
                                                  AccountToken.used_at.is_(None)).values(used_at=utcnow()))


@contextmanager
def refusal_rolls_back() -> Iterator[None]:
    """Around a write that checks a token: a refusal ends the transaction (and its write lock) at once."""
    try:
        yield
    except TokenRefused:
        db.session.rollback()
        raise
