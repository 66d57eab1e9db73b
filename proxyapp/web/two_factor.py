"""Two-factor sign-in on the account pages: turning it on, new recovery codes, turning it off."""

from __future__ import annotations

from flask import Response, flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from proxyapp.models import TwoFactor
from proxyapp.services.accounts.lifecycle import WrongPassword
from proxyapp.services.signin import two_factor
from proxyapp.web.forms import WRONG_PASSWORD
from proxyapp.web.throttle import count_failure
from proxyapp.web.two_factor_forms import (
    ConfirmPasswordForm,
    DisableTwoFactorForm,
    EnrolmentCodeForm,
    RegenerateCodesForm,
)
from proxyapp.web.views import form_status

WRONG_CODE = "This code is not right or was used already. Enter the code your app shows now."
REQUIRED_NOTE = "Your operator requires administrators to use two-factor sign-in."


def _back_to_account() -> Response:
    return redirect(url_for("web.account"))


def _enrol_page(row: TwoFactor, form: EnrolmentCodeForm, status: int = 200) -> ResponseReturnValue:
    setup = two_factor.provisioning(row, current_user.username)
    return render_template("two_factor/enrol.html", setup=setup, form=form), status


def show_recovery_codes(codes: list[str], *, first: bool = False) -> Response:
    """The one page that ever shows recovery codes; never cached."""
    response = make_response(render_template("two_factor/recovery_codes.html", codes=codes, first=first))
    response.headers["Cache-Control"] = "no-store"
    return response


@login_required
def enrol() -> ResponseReturnValue:
    """Confirm the password, then show a new secret (QR code and text) and ask for its first code."""
    if two_factor.is_enrolled(current_user):
        flash("Two-factor sign-in is already on.", "info")
        return _back_to_account()
    form = ConfirmPasswordForm()
    if form.validate_on_submit():
        try:
            row = two_factor.start_enrolment(current_user, form.password.data)
        except WrongPassword:
            count_failure()
            form.password.errors.append(WRONG_PASSWORD)
        else:
            return _enrol_page(row, EnrolmentCodeForm(formdata=None))
    return render_template("two_factor/password.html", form=form,
                           is_required=two_factor.is_required(current_user)), form_status()


@login_required
def confirm() -> ResponseReturnValue:
    """Finish enrolment with a first code; the recovery codes are shown once."""
    row = two_factor.unfinished_enrolment(current_user)
    if row is None:
        flash("The set-up was not finished in time. Confirm your password to start again.", "error")
        return redirect(url_for("web.two_factor_enrol"))
    form = EnrolmentCodeForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_enrolment(current_user, form.code.data)
        except two_factor.CodeRejected:
            count_failure()
            form.code.errors.append(WRONG_CODE)
        else:
            return show_recovery_codes(codes, first=True)
    return _enrol_page(row, form, 422)


@login_required
def recovery_codes() -> ResponseReturnValue:
    """Replace the recovery codes (password or a current code); the new ones are shown once."""
    if not two_factor.is_enrolled(current_user):
        return redirect(url_for("web.two_factor_enrol"))
    form = RegenerateCodesForm()
    if form.validate_on_submit():
        try:
            return show_recovery_codes(two_factor.regenerate_recovery_codes(current_user, form.password_or_code.data))
        except (WrongPassword, two_factor.CodeRejected):
            count_failure()
            form.password_or_code.errors.append("Neither your password nor a current code from your app.")
    return render_template("two_factor/regenerate.html", form=form,
                           status=two_factor.status(current_user)), form_status()


@login_required
def disable() -> ResponseReturnValue:
    """Turn two-factor sign-in off: the password and a code (from the app, or a recovery code)."""
    if not two_factor.is_enrolled(current_user):
        return _back_to_account()
    if two_factor.is_required(current_user):
        flash(f"{REQUIRED_NOTE} It cannot be turned off for this account.", "error")
        return _back_to_account()
    form = DisableTwoFactorForm()
    if form.validate_on_submit():
        try:
            two_factor.disable(current_user, form.password.data, form.code.data)
        except WrongPassword:
            count_failure()
            form.password.errors.append(WRONG_PASSWORD)
        except two_factor.CodeRejected:
            count_failure()
            form.code.errors.append(WRONG_CODE)
        else:
            flash("Two-factor sign-in is off. Your password alone now signs in.", "info")
            return _back_to_account()
    return render_template("two_factor/disable.html", form=form), form_status()
