"""The sign-in's second step: after the right password of an account with two-factor sign-in on.

Nothing is signed in between the two steps. The password step leaves a pending state in this
browser's session cookie: a token signed for this purpose only, naming the account and bound to
its current password hash, that expires after PENDING_LIFETIME. The server-side session (and the
known-device cookie) is made only once the code is right.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

from proxyapp.extensions import db
from proxyapp.models import User
from proxyapp.services.signin import two_factor
from proxyapp.web.sessions import end_session, start_session
from proxyapp.web.throttle import count_failure, remember_device
from proxyapp.web.two_factor_forms import SecondFactorForm

PENDING_KEY = "_second_factor"
PENDING_LIFETIME = timedelta(minutes=5)
WRONG_CODE = "This code is not right, or it was used already."
TIMED_OUT = "Your sign-in was not finished in time. Enter your username and password again."


@dataclass(frozen=True)
class Pending:
    """An account whose password was right, waiting for its second factor."""

    user: User
    next_url: str


def _tokens() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="second-factor-pending")


def _password_mark(user: User) -> str:
    """Changes when the password does: a pending state from before a password change is void."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def begin_second_factor(user: User, next_url: str) -> Response:
    """Leave the pending state for `user` in this browser (any earlier session ends) and ask for the code."""
    end_session()
    session[PENDING_KEY] = _tokens().dumps({"id": user.id, "username": user.username,
                                            "mark": _password_mark(user), "next": next_url})
    return redirect(url_for("web.login_code"))


def _claims() -> dict | None:
    token = session.get(PENDING_KEY)
    if not isinstance(token, str):
        return None
    try:
        return _tokens().loads(token, max_age=PENDING_LIFETIME.total_seconds())
    except BadSignature:  # SignatureExpired included
        return None


def pending_username() -> str:
    """The account the code step is about ('' without a valid pending state): the throttle's key."""
    claims = _claims()
    return claims["username"] if claims else ""


def _pending() -> Pending | None:
    claims = _claims()
    user = db.session.get(User, claims["id"]) if claims else None
    if user is None or not user.is_active or not two_factor.is_enrolled(user):
        return None
    if not hmac.compare_digest(claims["mark"], _password_mark(user)):
        return None
    return Pending(user, claims["next"])


def login_code() -> ResponseReturnValue:
    """Ask for the app's code (or a recovery code); only a right one signs in."""
    pending = _pending()
    if pending is None:
        session.pop(PENDING_KEY, None)
        flash(TIMED_OUT, "info")
        return redirect(url_for("web.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        verified = two_factor.verify_second_factor(pending.user, form.code.data)
        if verified is not None:
            return _signed_in(pending, verified)
        count_failure()
        form.code.errors.append(WRONG_CODE)
    status = 200 if request.method == "GET" else 422
    return render_template("login_code.html", form=form, username=pending.user.username), status


def _signed_in(pending: Pending, verified: two_factor.Verified) -> Response:
    start_session(pending.user)  # a fresh session: the pending state is gone with the old one
    if verified.by_recovery_code:
        left = verified.recovery_codes_left
        flash(f"You signed in with a recovery code; it cannot be used again. {left} left"
              + ("." if left > 2 else ": make new ones under Two-factor sign-in."), "info" if left > 2 else "error")
    return remember_device(redirect(pending.next_url), pending.user.username)
