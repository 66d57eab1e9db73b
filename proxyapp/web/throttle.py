"""Brute-force limits on the credential forms: per client IP and per username.

A breach renders the HTML error page (429) saying when to try again; the Retry-After
header comes from the shared rate-limit headers hook.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user

from proxyapp.extensions import limiter
from proxyapp.services.accounts import normalize_username

View = Callable[..., object]


def login_limit() -> str:
    """Attempts per window at signing in or confirming a password (LOGIN_RATE_LIMIT)."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def register_limit() -> str:
    """Registrations per window (REGISTER_RATE_LIMIT)."""
    return current_app.config["REGISTER_RATE_LIMIT"]


def username_identity() -> str:
    """The username an attempt is about: the form's, or the signed-in person's."""
    if current_user.is_authenticated:
        return f"username:{current_user.username}"
    return f"username:{normalize_username(request.form.get('username', ''))}"


def retry_message() -> str:
    """The 429 page's text: how long until the breached window lets the next attempt through."""
    seconds = max(1, math.ceil(limiter.current_limit.reset_at - time.time()))
    return f"Too many attempts. Please wait {seconds} seconds, then try again."


def per_ip_and_username(limit: Callable[[], str], view: View) -> View:
    """Limit a view's POSTs per client IP and, separately, per username."""
    options = {"methods": ["POST"], "error_message": retry_message}
    by_ip = limiter.limit(limit, **options)(view)
    return limiter.limit(limit, key_func=username_identity, **options)(by_ip)
