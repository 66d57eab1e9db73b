"""The account's email: changed with the current password, verified by a mailed single-use link.

A changed address is unverified until its link is opened, and password-reset mail goes only
to a verified one: otherwise anyone could type someone else's address (or a typo) and
have that mailbox receive the keys to the account.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.links import links_from, public_origin, public_url_for
from proxyapp.models import AccountToken, User, utcnow
from proxyapp.services.accounts.lifecycle import WrongPassword
from proxyapp.services.accounts.mail import MailNotSent, enqueue_mail_job, is_mail_enabled, send_mail
from proxyapp.services.accounts.passwords import verify_password
from proxyapp.services.accounts.tokens import (
    TokenPurpose,
    TokenRefused,
    find_token,
    issue_token,
    refusal_rolls_back,
    spend_token,
)

log = logging.getLogger(__name__)
VERIFY_JOB = "workers.mail.send_email_verification"


def change_email(user: User, password: str, new_email: str) -> None:
    """Set a new, unverified email (current password required) and queue its verification mail."""
    if not verify_password(user.password_hash, password):
        raise WrongPassword()
    begin_write()
    user.email = new_email.strip()
    user.email_verified_at = None
    db.session.commit()
    request_verification(user)


def request_verification(user: User) -> bool:
    """Queue a verification mail to the account's unconfirmed email, when mail is configured; False if none."""
    if not (user.email and user.email_verified_at is None and is_mail_enabled()):
        return False
    try:
        enqueue_mail_job(VERIFY_JOB, user.id, user.email, public_origin())
    except RedisError:
        # The address is saved; the account page offers to send the link again.
        log.warning("could not queue a verification mail", extra={"user_id": user.id}, exc_info=True)
        return False
    return True


def mail_verification(user_id: int, email: str, origin: str | None) -> bool:
    """The job: mail a verification link if `email` is still the account's unverified address."""
    user = db.session.get(User, user_id)
    if user is None or user.email != email or user.email_verified_at is not None:
        return False
    begin_write()
    token = issue_token(user, TokenPurpose.VERIFY_EMAIL, timedelta(hours=current_app.config["EMAIL_VERIFY_HOURS"]),
                        email=email)
    db.session.commit()
    with links_from(origin):
        link = public_url_for("web.verify_email", token=token)
    try:
        send_mail(email, "Confirm your email address", _verification_mail(user, link))
    except MailNotSent as error:
        log.warning("verification mail not sent: %s", error, extra={"user_id": user_id})
        raise
    return True


def _verification_mail(user: User, link: str) -> str:
    hours = current_app.config["EMAIL_VERIFY_HOURS"]
    return (f"Hello {user.username},\n\nOpen this link within {hours} hours to confirm that this address belongs "
            f"to your account; password-reset mail is sent only to a confirmed address:\n\n{link}\n\n"
            "If you did not add this address to an account, ignore this mail.\n")


def _open_link(token: str) -> tuple[AccountToken, User]:
    """A usable verification link and its account; superseded once the account's email has changed since."""
    row = find_token(TokenPurpose.VERIFY_EMAIL, token)
    user = db.session.get(User, row.user_id)
    if user.email != row.email:
        raise TokenRefused("superseded")
    return row, user


def verification_email(token: str) -> str:
    """The address a verification link would confirm; raises TokenRefused."""
    return _open_link(token)[0].email or ""


def confirm_email(token: str) -> User:
    """Use a verification link: its address becomes the account's verified email (if still current)."""
    with refusal_rolls_back():
        begin_write()
        row, user = _open_link(token)
        spend_token(row)
    user.email_verified_at = utcnow()
    db.session.commit()
    return user
