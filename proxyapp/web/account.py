"""The signed-in person's pages: keys, usage, predictions, sessions, password, account deletion."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from proxyapp.services.accounts.lifecycle import WrongPassword, change_password, delete_account
from proxyapp.services.accounts.overview import account_overview
from proxyapp.services.keys import lifecycle as keyring
from proxyapp.services.signin.sessions import end_all_sessions, live_sessions
from proxyapp.services.webhooks.emit import send_test_event
from proxyapp.services.webhooks.signing_keys import rotate_signing_secret
from proxyapp.web.forms import WRONG_PASSWORD, ChangePasswordForm, DeleteAccountForm, KeyNameForm, WebhookTestForm
from proxyapp.web.sessions import end_session, is_current_session, start_session
from proxyapp.web.throttle import count_failure
from proxyapp.web.views import form_status, show_new_key


def _account_page(key_form: KeyNameForm, status: int = 200, webhook_form: WebhookTestForm | None = None
                  ) -> ResponseReturnValue:
    page = render_template("account.html", overview=account_overview(current_user), key_form=key_form,
                           webhook_form=webhook_form or WebhookTestForm(formdata=None),
                           sessions=live_sessions(current_user), is_current_session=is_current_session)
    return page, status


def _back_to_account() -> Response:
    return redirect(url_for("web.account"))


@login_required
def account() -> ResponseReturnValue:
    """Keys, usage and recent predictions."""
    return _account_page(KeyNameForm(formdata=None))


@login_required
def create_key() -> ResponseReturnValue:
    """Create a named key and show it once."""
    form = KeyNameForm()
    if form.validate_on_submit():
        try:
            return show_new_key(keyring.create_named_key(current_user, form.name.data, form.expires_on.data))
        except keyring.KeyActionRefused as refusal:
            form.name.errors.append(refusal.description)
    return _account_page(form, 422)


@login_required
def revoke_key(key_id: int) -> Response:
    """Revoke a key now; it gets 401 from then on."""
    revoked = keyring.revoke_key(current_user, key_id)
    flash(f"Key “{revoked.name}” ({revoked.display_prefix}…) is revoked.", "info")
    return _back_to_account()


@login_required
def rotate_key(key_id: int) -> Response:
    """Replace a key: the new one is shown once, the old one works for the grace period."""
    try:
        rotation = keyring.rotate_key(current_user, key_id)
    except keyring.KeyActionRefused as refusal:
        flash(refusal.description, "error")
        return _back_to_account()
    return show_new_key(rotation.new, rotation=rotation)


@login_required
def rotate_webhook_secret() -> Response:
    """Replace the webhook signing secret; the old one keeps signing for the grace period."""
    rotated = rotate_signing_secret(current_user.id)
    flash(f"A new signing secret is in use. The previous one also signs deliveries until "
          f"{rotated.previous_expires_at:%Y-%m-%d %H:%M} UTC.", "info")
    return _back_to_account()


@login_required
def send_webhook_test() -> ResponseReturnValue:
    """Queue a signed `test` event to the URL entered (a worker delivers it)."""
    form = WebhookTestForm()
    if form.validate_on_submit():
        send_test_event(current_user.id, form.url.data)
        flash("A test event is queued; its delivery shows in the list below.", "info")
        return _back_to_account()
    return _account_page(KeyNameForm(formdata=None), 422, webhook_form=form)


@login_required
def sign_out_everywhere() -> Response:
    """End every session of the account, this browser's included, and show the sign-in page."""
    end_all_sessions(current_user)
    end_session()
    flash("You are signed out everywhere, on this browser too. Sign in again to continue.", "info")
    return redirect(url_for("web.login"))


@login_required
def password() -> ResponseReturnValue:
    """Change the password; every other session of the account ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current_password.data, form.new_password.data)
        except WrongPassword:
            count_failure()
            form.current_password.errors.append(WRONG_PASSWORD)
        else:
            start_session(current_user._get_current_object())
            flash("Your password is changed. Your other sessions have been signed out.", "info")
            return _back_to_account()
    return render_template("password.html", form=form), form_status()


@login_required
def delete() -> ResponseReturnValue:
    """Delete the account with its keys, predictions and data (password and username typed)."""
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            delete_account(current_user, form.password.data)
        except WrongPassword:
            count_failure()
            form.password.errors.append(WRONG_PASSWORD)
        else:
            end_session()
            flash("Your account, its keys and its predictions have been deleted.", "info")
            return redirect(url_for("web.index"))
    return render_template("delete_account.html", form=form), form_status()
