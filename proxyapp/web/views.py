"""Pages: landing, registration, login/logout, account."""

from __future__ import annotations

from flask.typing import ResponseReturnValue
from flask import Response, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from proxyapp.models import User
from proxyapp.services.accounts import UsernameTaken, authenticate, register_user
from proxyapp.services.keys import IssuedKey
from proxyapp.services.usage import account_summary
from proxyapp.web.forms import LoginForm, RegistrationForm

INVALID_LOGIN = "Unknown username or wrong password."


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
            _start_session(registration.user)
            return show_new_key(registration.first_key, first=True)
    return render_template("register.html", form=form), 200 if request.method == "GET" else 422


def show_new_key(issued: IssuedKey, *, first: bool = False) -> Response:
    """The one page that ever shows a key's secret; never cached."""
    response = make_response(render_template("key_created.html", issued=issued, first=first))
    response.headers["Cache-Control"] = "no-store"
    return response


def login() -> ResponseReturnValue:
    """Sign in with username and password."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None and user.is_active:
            _start_session(user)
            return redirect(url_for("web.account"))
        form.password.errors.append(INVALID_LOGIN)
    return render_template("login.html", form=form), 200 if request.method == "GET" else 422


def logout() -> Response:
    """End the session (POST with CSRF token only)."""
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("web.index"))


@login_required
def account() -> str:
    """The account page: keys and usage."""
    return render_template("account.html", summary=account_summary(current_user))


def _start_session(user: User) -> None:
    """Sign the user in on a fresh session (no fixation across login)."""
    session.clear()
    login_user(user, remember=False)
