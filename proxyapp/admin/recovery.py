"""Admin actions for a locked-out account: a one-time reset link, or a reset mail (both audited)."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from proxyapp.services.accounts import admin
from proxyapp.services.accounts.mail import is_mail_enabled
from proxyapp.services.accounts.recovery import create_reset_link, queue_reset_mail


def reset_link(user_id: int) -> ResponseReturnValue:
    """Make a one-time reset link for the account and show it once (never cached)."""
    account = admin.get_user(user_id)
    link = create_reset_link(account, actor=current_user, audited=True)
    response = make_response(render_template("admin/reset_link.html", account=account, link=link))
    response.headers["Cache-Control"] = "no-store"
    return response


def reset_mail(user_id: int) -> ResponseReturnValue:
    """Mail a reset link to the account's confirmed email."""
    account = admin.get_user(user_id)
    if not is_mail_enabled() or account.email_verified_at is None:
        flash(f"{account.username} has no confirmed email to send a reset link to; make a link instead.", "error")
    else:
        queue_reset_mail(current_user, account)
        flash(f"A reset link is on its way to the confirmed email of {account.username}.", "info")
    return redirect(url_for("admin.user", user_id=user_id))
