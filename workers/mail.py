"""Account mail jobs: password-reset and email-verification links (SMTP failures raise, so RQ retries)."""

from __future__ import annotations

from proxyapp.extensions import db
from proxyapp.models import User
from proxyapp.services.accounts.email import mail_verification
from proxyapp.services.accounts.recovery import mail_password_reset, mail_reset_link
from workers.context import get_app


def send_password_reset(identifier: str, origin: str | None) -> int:
    """Mail a reset link to each account the typed username or email names (often none)."""
    with get_app().app_context():
        return mail_password_reset(identifier, origin)


def send_reset_to_account(user_id: int, origin: str | None) -> bool:
    """Mail a reset link to one account's verified email (an administrator's action)."""
    with get_app().app_context():
        user = db.session.get(User, user_id)
        if user is None or user.email_verified_at is None:
            return False
        mail_reset_link(user, origin)
        return True


def send_email_verification(user_id: int, email: str, origin: str | None) -> bool:
    """Mail a verification link for the account's new email."""
    with get_app().app_context():
        return mail_verification(user_id, email, origin)
