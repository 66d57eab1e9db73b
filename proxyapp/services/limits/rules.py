"""The one owner of proxyapp's limits: which limit applies to whom.

Blueprints only wire these into Flask-Limiter (proxyapp/api/limits.py, proxyapp/web/throttle.py).
"""

from __future__ import annotations

from flask import Flask, current_app
from limits import parse_many

from config import ConfigError
from proxyapp.models import User


def effective_rate_limit(user: User) -> str:
    """The account's submission limit: the admin's override or RATE_LIMIT."""
    return user.rate_limit or current_app.config["RATE_LIMIT"]


def effective_max_pending(user: User) -> int:
    """How many queued+running predictions the account may have."""
    return user.max_pending if user.max_pending is not None else current_app.config["MAX_PENDING"]


def poll_limit() -> str:
    """The window for GETs under /v1 (POLL_RATE_LIMIT)."""
    return current_app.config["POLL_RATE_LIMIT"]


def anonymous_limit() -> str:
    """The per-IP window for requests without a valid key."""
    return current_app.config["ANONYMOUS_RATE_LIMIT"]


def login_limit() -> str:
    """Failed password checks per client IP and username (LOGIN_RATE_LIMIT)."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def login_ip_limit() -> str:
    """Failed password checks per client IP, whatever the username (LOGIN_IP_RATE_LIMIT)."""
    return current_app.config["LOGIN_IP_RATE_LIMIT"]


def login_username_limit() -> str:
    """Failed password checks per username from every client (LOGIN_USERNAME_RATE_LIMIT)."""
    return current_app.config["LOGIN_USERNAME_RATE_LIMIT"]


def register_limit() -> str:
    """Registrations per window (REGISTER_RATE_LIMIT)."""
    return current_app.config["REGISTER_RATE_LIMIT"]


def forgot_limit() -> str:
    """Forgot-password requests per client IP and per username or email (FORGOT_PASSWORD_RATE_LIMIT)."""
    return current_app.config["FORGOT_PASSWORD_RATE_LIMIT"]


def scaled_limit(limit: str, factor: int) -> str:
    """Multiply the count of a limit string such as `100/minute` (for polling limits)."""
    parts = []
    for item in limit.split(";"):
        count, _, period = item.strip().partition("/")
        try:
            parts.append(f"{int(count) * factor}/{period}")
        except ValueError:
            raise ConfigError(f"RATE_LIMIT must look like '100/minute', got {limit!r}") from None
    return ";".join(parts)


def validate_limits(app: Flask) -> None:
    """Fail at start-up, not on a request, if a configured limit string cannot be parsed."""
    for name in ("RATE_LIMIT", "POLL_RATE_LIMIT", "ANONYMOUS_RATE_LIMIT", "REGISTER_RATE_LIMIT",
                 "LOGIN_RATE_LIMIT", "LOGIN_IP_RATE_LIMIT", "LOGIN_USERNAME_RATE_LIMIT", "FORGOT_PASSWORD_RATE_LIMIT"):
        try:
            parse_many(app.config[name])
        except ValueError:
            raise ConfigError(f"{name} must look like '100/minute', got {app.config[name]!r}") from None
