"""Brute-force limits on the credential forms.

Registration counts every attempt, per client IP and per requested username. Password
checks (signing in, and confirming the password to change it or delete the account)
count only *failures*, in three windows shared by those forms:

- per client IP and username (`LOGIN_RATE_LIMIT`, strict): one client guessing one account;
- per client IP (`LOGIN_IP_RATE_LIMIT`): one client trying many accounts;
- per username from anywhere (`LOGIN_USERNAME_RATE_LIMIT`, loose): guesses spread over many
  addresses. A browser that signed in to the account before carries a signed "known
  device" cookie and is exempt from this one, so strangers' wrong guesses never refuse
  its right password. Its trade-off: someone who makes that many failures in the window
  does keep the account's owner out on a *new* browser until the window moves on.

Wrong two-factor codes (the sign-in's code step, enrolment, turning it off) count in the same
windows, for the account the code is for. A successful sign-in counts in none of them. A
breach renders the HTML error page (429) saying when to try again; the Retry-After header
comes from the shared rate-limit headers hook. The limits, scopes and identities come from
proxyapp/services/limits/rules.py; this module wires them to the views.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Response, current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from proxyapp.extensions import limiter
from proxyapp.services.accounts.lifecycle import normalize_username
from proxyapp.services.limits.rules import (
    Scope,
    client_username_identity,
    login_ip_limit,
    login_limit,
    login_username_limit,
    username_identity,
)

View = Callable[..., object]
KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_DEVICE_LIFETIME = timedelta(days=90)
MAX_KEYED_USERNAME = 64  # longer form values are cut before they become part of a Redis key


def attempted_username() -> str:
    """The username an attempt is about: the form's, or the signed-in person's."""
    if current_user.is_authenticated:
        return current_user.username
    return normalize_username(request.form.get("username", ""))[:MAX_KEYED_USERNAME]


def _attempted_username_identity() -> str:
    return username_identity(attempted_username())


def retry_message() -> str:
    """The 429 page's text: how long until the breached window lets the next attempt through."""
    seconds = max(1, math.ceil(limiter.current_limit.reset_at - time.time()))
    return f"Too many attempts. Please wait {seconds} seconds, then try again."


def per_ip_and_username(limit: Callable[[], str], view: View) -> View:
    """Limit a view's POSTs per client IP and, separately, per username (every attempt counts)."""
    options = {"methods": ["POST"], "error_message": retry_message}
    by_ip = limiter.limit(limit, **options)(view)
    return limiter.limit(limit, key_func=_attempted_username_identity, **options)(by_ip)


def _charged_by_the_view(_response: Response) -> bool:
    """Flask-Limiter only tests these windows before the view; count_failure charges them."""
    return False


def failures_limited(view: View, username: Callable[[], str] = attempted_username) -> View:
    """Refuse a view's POSTs while any password-failure window is full (see the module doc).

    `username` names the account an attempt is about; the sign-in's code step passes the one
    its pending state is for, so wrong codes fill the same windows as wrong passwords.
    """
    def by_username() -> str:
        return username_identity(username())

    def by_client_and_username() -> str:
        return client_username_identity(get_remote_address(), username())

    def is_known() -> bool:
        return is_known_device(username())

    options = {"methods": ["POST"], "error_message": retry_message, "deduct_when": _charged_by_the_view}
    windows = ((login_limit, Scope.PASSWORD_FAILURES_CLIENT_USERNAME, by_client_and_username, None),
               (login_ip_limit, Scope.PASSWORD_FAILURES_CLIENT, get_remote_address, None),
               (login_username_limit, Scope.PASSWORD_FAILURES_USERNAME, by_username, is_known))
    for limit, scope, key_func, exempt_when in windows:
        view = limiter.shared_limit(limit, scope, key_func=key_func, exempt_when=exempt_when, **options)(view)
    return view


def count_failure() -> None:
    """Charge a failed password check to every window this request was tested against.

    It runs in the view, so an outage of Redis here is answered like any other (503):
    Flask-Limiter's own deduction runs after the response is made, where it would escape
    the error handlers as a 500.
    """
    for runtime_limit, key in limiter.context.conditional_deductions.items():
        limiter.limiter.hit(runtime_limit.limit, *key, cost=runtime_limit.deduction_amount)


def _known_devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-device")


def is_known_device(username: str) -> bool:
    """True if this browser signed in to this account before (a valid known-device cookie)."""
    cookie = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not cookie:
        return False
    try:
        remembered = _known_devices().loads(cookie, max_age=KNOWN_DEVICE_LIFETIME.total_seconds())
    except BadSignature:
        return False
    return remembered == username


def remember_device(response: Response, username: str) -> Response:
    """Mark this browser as one that signed in to the account (exempt from the per-username window)."""
    config = current_app.config
    response.set_cookie(KNOWN_DEVICE_COOKIE, _known_devices().dumps(username),
                        max_age=int(KNOWN_DEVICE_LIFETIME.total_seconds()), httponly=True,
                        secure=config["SESSION_COOKIE_SECURE"], samesite=config["SESSION_COOKIE_SAMESITE"])
    return response
