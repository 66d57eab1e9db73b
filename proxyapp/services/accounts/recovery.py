"""Password recovery: "forgot password" mail, the reset link, and the operator's ways in.

Asking for a reset does the same work for every name: the request only queues a job with
what was typed; the worker looks the account up and mails a link to its *verified* email
(an unverified address may belong to someone else). Using a link sets the password, ends
every session of the account and is recorded in the audit trail; the link then stops working.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.links import links_from, public_origin, public_url_for
from proxyapp.models import User
from proxyapp.services.accounts.audit import AuditAction, record_event
from proxyapp.services.accounts.mail import MailNotSent, enqueue_mail_job, send_mail
from proxyapp.services.accounts.passwords import hash_password
from proxyapp.services.accounts.tokens import (
    TokenPurpose,
    find_token,
    issue_token,
    refusal_rolls_back,
    spend_all,
    spend_token,
)
from proxyapp.services.signin.sessions import delete_sessions

log = logging.getLogger(__name__)
RESET_JOB = "workers.mail.send_password_reset"
MAX_IDENTIFIER_LENGTH = 254
MAX_ACCOUNTS_PER_EMAIL = 5  # one address may verify several accounts; each gets its own link


def reset_lifetime() -> timedelta:
    """How long a reset link works (PASSWORD_RESET_MINUTES)."""
    return timedelta(minutes=current_app.config["PASSWORD_RESET_MINUTES"])


def request_password_reset(identifier: str) -> None:
    """Queue the lookup and the mail for a username or email (the same work whether it exists or not)."""
    enqueue_mail_job(RESET_JOB, identifier.strip().lower()[:MAX_IDENTIFIER_LENGTH], public_origin())


def accounts_to_mail(identifier: str) -> list[User]:
    """Enabled accounts named `identifier`, or whose verified email it is."""
    query = (select(User).where(User.is_disabled.is_(False), User.email_verified_at.is_not(None),
                                or_(User.username == identifier, func.lower(User.email) == identifier))
             .order_by(User.id).limit(MAX_ACCOUNTS_PER_EMAIL))
    return list(db.session.scalars(query))


def create_reset_link(user: User, actor: User | None = None, audited: bool = False) -> str:
    """A new one-time reset link for the account (absolute, from PUBLIC_URL); audited when an operator asks."""
    begin_write()
    token = issue_token(user, TokenPurpose.PASSWORD_RESET, reset_lifetime())
    if audited:
        record_event(actor, AuditAction.PASSWORD_RESET_LINK, user)
    db.session.commit()
    return public_url_for("web.reset_password", token=token)


def _reset_mail(user: User, link: str) -> str:
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    return (f"Hello {user.username},\n\nSomeone (hopefully you) asked to reset the password of this account.\n"
            f"Open this link within {minutes} minutes to choose a new one; it works once:\n\n{link}\n\n"
            "Setting a new password signs the account out everywhere. If you did not ask for this, ignore this "
            "mail: your password stays as it is.\n")


def mail_reset_link(user: User, origin: str | None) -> None:
    """Mail a new reset link to the account's verified email; raises MailNotSent (logged without address or link)."""
    with links_from(origin):
        link = create_reset_link(user)
    try:
        send_mail(user.email, "Reset your password", _reset_mail(user, link))
    except MailNotSent as error:
        log.warning("password reset mail not sent: %s", error, extra={"user_id": user.id})
        raise


def mail_password_reset(identifier: str, origin: str | None) -> int:
    """The job: mail a reset link to each account `identifier` names; how many were sent."""
    users = accounts_to_mail(identifier)
    for user in users:
        mail_reset_link(user, origin)
    return len(users)


def queue_reset_mail(actor: User, user: User) -> None:
    """An administrator's action: queue a reset mail to the account's verified email (audited)."""
    begin_write()
    record_event(actor, AuditAction.PASSWORD_RESET_MAILED, user)
    db.session.commit()
    enqueue_mail_job("workers.mail.send_reset_to_account", user.id, public_origin())


def reset_account(token: str) -> User:
    """The account a reset link opens; raises TokenRefused (unknown, used or expired)."""
    return db.session.get(User, find_token(TokenPurpose.PASSWORD_RESET, token).user_id)


def reset_password(token: str, new_password: str) -> User:
    """Use a reset link: new password, every session ended, other reset links spent, audited."""
    password_hash = hash_password(new_password)  # slow by design: before the write lock is taken
    with refusal_rolls_back():
        begin_write()
        row = find_token(TokenPurpose.PASSWORD_RESET, token)
        spend_token(row)
    user = db.session.get(User, row.user_id)
    _set_password(user, password_hash)
    record_event(user, AuditAction.PASSWORD_RESET, user)
    db.session.commit()
    return user


def set_password_by_operator(user: User, new_password: str) -> None:
    """The operator's command: set the password, end every session, audited (actor `cli`)."""
    password_hash = hash_password(new_password)
    begin_write()
    _set_password(user, password_hash)
    record_event(None, AuditAction.PASSWORD_SET, user)
    db.session.commit()


def _set_password(user: User, password_hash: str) -> None:
    user.password_hash = password_hash
    delete_sessions(user)
    spend_all(user, TokenPurpose.PASSWORD_RESET)
