"""The one owner of proxyapp's limits: the notation of limit strings, which limit applies to whom,
and the names of the shared windows (their scopes and whose they are).

Blueprints only wire these into Flask-Limiter (proxyapp/api/limits.py, proxyapp/web/throttle.py).
Every limit string is read by `parse_limits`: the settings (at start-up), the admin form and
`flask users set-limit --rate-limit`, each saying so in its own words.

config.py reads RATE_LIMIT through `scaled_limit` but imports it inside its `_scaled_limit`,
not at its top: proxyapp/__init__ imports config first, and importing this module runs
proxyapp/__init__, which would then find config half-built. By the time a config is built
(`load_config`, a Config class called) config has finished importing, so the cycle never closes.
"""

from __future__ import annotations

from enum import StrEnum

from flask import current_app
from limits import RateLimitItem, parse_many

from config import ConfigError
from proxyapp.models import User

LIMIT_EXAMPLES = "100/minute or 1000/hour;50/minute"
LIMIT_SETTINGS = ("RATE_LIMIT", "POLL_RATE_LIMIT", "ANONYMOUS_RATE_LIMIT", "REGISTER_RATE_LIMIT", "LOGIN_RATE_LIMIT",
                  "LOGIN_IP_RATE_LIMIT", "LOGIN_USERNAME_RATE_LIMIT", "FORGOT_PASSWORD_RATE_LIMIT")


class Scope(StrEnum):
    """A shared window: the scope in its Redis key, and its name in the RateLimit-Policy header.

    A StrEnum, unlike the other str Enums here: `limits` builds Redis keys with str(), which
    must give the bare value.
    """

    SUBMIT_KEY = "submit-key"
    SUBMIT_ACCOUNT = "submit-account"
    POLL_KEY = "poll-key"
    POLL_ACCOUNT = "poll-account"
    ANONYMOUS = "anonymous"
    PASSWORD_FAILURES_CLIENT_USERNAME = "password-failures-client-username"
    PASSWORD_FAILURES_CLIENT = "password-failures-client"
    PASSWORD_FAILURES_USERNAME = "password-failures-username"


class InvalidLimit(ValueError):
    """A limit string the notation cannot read (it looks like 100/minute or 1000/hour;50/minute)."""


def parse_limits(value: str) -> list[RateLimitItem]:
    """The windows a limit string names, in the order written; InvalidLimit if it is unreadable."""
    try:
        return parse_many(value)
    except ValueError:
        raise InvalidLimit(value) from None


def _setting_error(name: str, value: str) -> ConfigError:
    return ConfigError(f"{name} must look like '100/minute', got {value!r}")


def require_limit(name: str, value: str) -> list[RateLimitItem]:
    """The windows of the setting `name`; ConfigError naming it if its value is unreadable."""
    try:
        return parse_limits(value)
    except InvalidLimit:
        raise _setting_error(name, value) from None


def scaled_limit(name: str, value: str, factor: int) -> str:
    """The setting's `count/period` limit string with every count multiplied (POLL_RATE_LIMIT from RATE_LIMIT)."""
    require_limit(name, value)
    parts = []
    for item in value.split(";"):
        count, _, period = item.strip().partition("/")
        try:
            parts.append(f"{int(count) * factor}/{period}")
        except ValueError:  # readable, but written `100 per minute`: only the slash form is scaled
            raise _setting_error(name, value) from None
    return ";".join(parts)


def key_identity(key_id: int) -> str:
    """Whose window it is: one API key's."""
    return f"key:{key_id}"


def account_identity(user_id: int) -> str:
    """Whose window it is: one account's, whichever of its keys is used."""
    return f"account:{user_id}"


def username_identity(username: str) -> str:
    """Whose window it is: one username's, from every client."""
    return f"username:{username}"


def client_username_identity(client: str, username: str) -> str:
    """Whose window it is: one client address's, for one username."""
    return f"{client}|{username_identity(username)}"


def window_args(identity: str, scope: Scope) -> list[str]:
    """What the limiter keys a shared window by, as Flask-Limiter passes it: the key prefix, identity, scope."""
    return [current_app.config["RATELIMIT_KEY_PREFIX"], identity, scope]


def effective_rate_limit(user: User) -> str:
    """The account's submission limit: the admin's override or RATE_LIMIT."""
    return user.rate_limit or current_app.config["RATE_LIMIT"]


def effective_max_pending(user: User) -> int:
    """How many queued+running predictions the account may have."""
    return user.max_pending if user.max_pending is not None else current_app.config["MAX_PENDING"]


def submission_limit(user: User | None) -> str:
    """The submission window of the caller's account (admin override or RATE_LIMIT); RATE_LIMIT without one."""
    return effective_rate_limit(user) if user is not None else current_app.config["RATE_LIMIT"]


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
