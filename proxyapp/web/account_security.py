"""The account page's sign-in section: the email (change, verify) and ending one session."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from proxyapp.services.accounts.email import change_email, request_verification
from proxyapp.services.accounts.lifecycle import WrongPassword
from proxyapp.services.accounts.mail import is_mail_enabled
from proxyapp.services.signin.sessions import end_own_session
from proxyapp.web.forms import WRONG_PASSWORD
from proxyapp.web.recovery_forms import ChangeEmailForm
from proxyapp.web.throttle import count_failure
from proxyapp.web.views import form_status


@login_required
def email() -> ResponseReturnValue:
    """Change the account's email (current password required); a verification link is mailed to it."""
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            change_email(current_user, form.current_password.data, form.email.data)
        except WrongPassword:
            count_failure()
            form.current_password.errors.append(WRONG_PASSWORD)
        else:
            flash(_changed_message(), "info")
            return redirect(url_for("web.account"))
    return render_template("account/email.html", form=form), form_status()


def _changed_message() -> str:
    if is_mail_enabled():
        return "Your email is changed. Open the link we sent to it to confirm it."
    return "Your email is changed. This service sends no mail, so it stays unconfirmed."


@login_required
def resend_verification() -> ResponseReturnValue:
    """Mail a new verification link to the account's unconfirmed email."""
    if request_verification(current_user):
        flash("A new confirmation link is on its way to your email.", "info")
    else:
        flash("There is no unconfirmed email to send a link to.", "error")
    return redirect(url_for("web.account"))


@login_required
def end_session(session_id: int) -> ResponseReturnValue:
    """End one of the account's sessions (another browser's); 404 for any other id."""
    if not end_own_session(current_user, session_id):
        abort(404)
    flash("The session is ended; that browser is signed out.", "info")
    return redirect(url_for("web.account") + "#sessions-heading")

