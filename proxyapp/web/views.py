"""Public pages: landing, registration, sign-in and sign-out."""

from __future__ import annotations

from flask import Response, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from proxyapp.services.accounts.email import request_verification
from proxyapp.services.accounts.lifecycle import UsernameTaken, authenticate, register_user
from proxyapp.services.keys.lifecycle import Rotation
from proxyapp.services.keys.tokens import IssuedKey
from proxyapp.services.signin.two_factor import is_enrolled
from proxyapp.web.forms import LoginForm, RegistrationForm
from proxyapp.web.second_factor import begin_second_factor
from proxyapp.web.sessions import end_session, safe_next, start_session
from proxyapp.web.throttle import count_failure, remember_device

INVALID_LOGIN = "Unknown username or wrong password."
DISABLED_LOGIN = "This account is disabled. Contact the administrator."


def form_status() -> int:
    """200 for a fresh form, 422 for a submitted one that is being shown again with errors."""
    return 200 if request.method == "GET" else 422


def index() -> str:
    """The landing page."""
    return render_template("index.html")


def register() -> ResponseReturnValue:
    """Create an account, sign in, and show the first API key once."""
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            registration = register_user(form.username.data, form.password.data, form.email.data)
        except UsernameTaken:
            form.username.errors.append("This username is taken.")
        else:
            start_session(registration.user)
            request_verification(registration.user)
            return remember_device(show_new_key(registration.first_key, first=True), registration.user.username)
    return render_template("register.html", form=form), form_status()


def show_new_key(issued: IssuedKey, *, first: bool = False, rotation: Rotation | None = None) -> Response:
    """The one page that ever shows a key's secret; never cached."""
    page = render_template("key_created.html", issued=issued, first=first, rotation=rotation)
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


def login() -> ResponseReturnValue:
    """Sign in with username and password; same message for unknown user and wrong password."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None and user.is_active:
            target = safe_next(request.args.get("next")) or url_for("web.account")
            if is_enrolled(user):
                return begin_second_factor(user, target)  # not signed in until the code is right
            start_session(user)
            return remember_device(redirect(target), user.username)
        # A disabled account's right password counts too: the message would otherwise be an
        # unthrottled oracle for its password.
        count_failure()
        form.password.errors.append(INVALID_LOGIN if user is None else DISABLED_LOGIN)
    return render_template("login.html", form=form), form_status()


def logout() -> Response:
    """End the session (POST with CSRF token only)."""
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("web.index"))
