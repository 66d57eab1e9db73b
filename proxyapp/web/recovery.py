"""Forgot password, the reset link's page, and the email verification link's page."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from proxyapp.services.accounts.email import confirm_email, verification_email
from proxyapp.services.accounts.mail import is_mail_enabled
from proxyapp.services.accounts.recovery import request_password_reset, reset_account, reset_password
from proxyapp.services.accounts.tokens import TokenRefused
from proxyapp.web.recovery_forms import ForgotPasswordForm, ResetPasswordForm
from proxyapp.web.views import form_status

REFUSED_STATUS = {"unknown": 404, "used": 410, "expired": 410, "superseded": 410}


def forgot_limit() -> str:
    """Forgot-password requests per client IP and per username or email (FORGOT_PASSWORD_RATE_LIMIT)."""
    return current_app.config["FORGOT_PASSWORD_RATE_LIMIT"]


def forgot_password() -> ResponseReturnValue:
    """Ask for a reset link; the same answer whether or not the account exists."""
    form = ForgotPasswordForm()
    if not is_mail_enabled():
        return render_template("recovery/forgot.html", form=form, mail_enabled=False)
    if form.validate_on_submit():
        request_password_reset(form.username.data)
        return render_template("recovery/forgot.html", form=form, mail_enabled=True, sent=True)
    return render_template("recovery/forgot.html", form=form, mail_enabled=True), form_status()


def _refused(refusal: TokenRefused, kind: str) -> ResponseReturnValue:
    page = render_template("recovery/link_refused.html", reason=refusal.reason, kind=kind)
    return page, REFUSED_STATUS[refusal.reason]


def reset_password_page(token: str) -> ResponseReturnValue:
    """Choose a new password with a reset link; every session of the account ends."""
    try:
        user = reset_account(token)
    except TokenRefused as refusal:
        return _refused(refusal, "reset")
    form = ResetPasswordForm(user.username)
    if form.validate_on_submit():
        try:
            reset_password(token, form.new_password.data)
        except TokenRefused as refusal:
            return _refused(refusal, "reset")
        flash("Your password is changed and every session of the account is signed out. Sign in with the new "
              "password.", "info")
        return redirect(url_for("web.login"))
    return render_template("recovery/reset.html", form=form, username=user.username), form_status()


def verify_email(token: str) -> ResponseReturnValue:
    """Confirm an email address with its link (a button: mail scanners that open links confirm nothing)."""
    try:
        if request.method != "POST":
            return render_template("recovery/verify_email.html", email=verification_email(token))
        confirm_email(token)
    except TokenRefused as refusal:
        return _refused(refusal, "verify")
    flash("Your email address is confirmed.", "info")
    return redirect(url_for("web.account" if current_user.is_authenticated else "web.login"))
