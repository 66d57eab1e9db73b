"""Admin pages: the account list with search and paging, one account, and actions on it."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from proxyapp.admin.forms import LimitsForm
from proxyapp.extensions import login_manager
from proxyapp.models import User
from proxyapp.services.accounts import admin
from proxyapp.services.accounts.audit import recent_events
from proxyapp.services.keys.lifecycle import count_usable_keys, list_keys
from proxyapp.services.operations.overview import read_system_figures
from proxyapp.services.signin.two_factor import must_enrol


def require_admin() -> ResponseReturnValue | None:
    """Anonymous visitors go to the sign-in page; signed-in non-admins get 403; admins without
    two-factor sign-in go to enrolment when REQUIRE_ADMIN_2FA is on."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403, "This page is for administrators.")
    if must_enrol(current_user):
        flash("Administrators must turn on two-factor sign-in before using the admin pages.", "error")
        return redirect(url_for("web.two_factor_enrol"))
    return None


def index() -> str:
    """The system overview, accounts (search, pages) and the latest audit events."""
    search = request.args.get("q", "")
    page = request.args.get("page", 1, type=int)
    return render_template("admin/index.html", users=admin.list_users(search, page), search=search,
                           events=recent_events(), figures=read_system_figures())


def user(user_id: int) -> ResponseReturnValue:
    """One account: status, limits, keys (each revocable), and what admins did to it."""
    return _user_page(admin.get_user(user_id), None)


def _user_page(account: User, form: LimitsForm | None, status: int = 200) -> ResponseReturnValue:
    page = render_template("admin/user.html", account=account, form=form or LimitsForm.for_user(account),
                           usable_keys=count_usable_keys(account), keys=list_keys(account),
                           events=recent_events(target=account))
    return page, status


def _set_disabled(user_id: int, disabled: bool) -> Response:
    account = admin.get_user(user_id)
    try:
        admin.set_disabled(current_user, account, disabled)
    except admin.AdminActionRefused as refusal:
        flash(refusal.description, "error")
    else:
        flash(f"{account.username} is {'disabled' if disabled else 'enabled'}.", "info")
    return redirect(url_for("admin.user", user_id=user_id))


def disable(user_id: int) -> Response:
    """Disable an account: it cannot sign in and its keys get 403."""
    return _set_disabled(user_id, True)


def enable(user_id: int) -> Response:
    """Re-enable a disabled account."""
    return _set_disabled(user_id, False)


def limits(user_id: int) -> ResponseReturnValue:
    """Set an account's rate limit and pending cap."""
    account = admin.get_user(user_id)
    form = LimitsForm()
    if not form.validate_on_submit():
        return _user_page(account, form, 422)
    admin.set_limits(current_user, account, *form.cleaned())
    flash(f"Limits of {account.username} are saved.", "info")
    return redirect(url_for("admin.user", user_id=user_id))
