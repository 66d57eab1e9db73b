"""Rate-limit plumbing shared by the API and the pages: limit validation and response headers."""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, request
from flask_limiter import RequestLimit
from redis.exceptions import RedisError

from config import ConfigError
from limits import parse_many
from limits.errors import StorageError
from proxyapp.errors import handle_dependency_down
from proxyapp.extensions import limiter

log = logging.getLogger(__name__)
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy",
                      "RateLimit")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _tightest(limits: list[RequestLimit]) -> RequestLimit:
    """The applied limit with the least remaining (ties: the one that resets last)."""
    return min(limits, key=lambda lim: (lim.remaining, -lim.window.reset_time))


def _policy_name(lim: RequestLimit) -> str:
    return str(lim.request_args[-1]).rsplit(":", 1)[-1] if lim.shared else "default"


def add_rate_limit_headers(response: Response) -> Response:
    """X-RateLimit-* for the tightest applied limit, the IETF RateLimit fields, Retry-After on 429.

    The windows come from the limiter's own hits and tests in this request (see
    ratelimit_storage), so this normally reads nothing from Redis. Should a read still be
    needed and fail, the answer is the 503 envelope with Retry-After, except where the view
    already accepted a change (a 2xx or 3xx to a POST, PUT, PATCH or DELETE): a 202 means the
    prediction is queued, and a 503 would have the client submit it again, so that answer
    stands without these headers.
    """
    if response.status_code == 503:
        return response
    try:
        return _add_headers(response)
    except (StorageError, RedisError) as error:
        if request.method in SAFE_METHODS or response.status_code >= 400:
            return handle_dependency_down(error)
        log.warning("rate-limit headers left out of an accepted change: %s unavailable", type(error).__name__)
        for name in RATE_LIMIT_HEADERS:
            response.headers.pop(name, None)
        return response


def _add_headers(response: Response) -> Response:
    applied = limiter.current_limits
    if not applied:
        return response
    tightest = _tightest(applied)
    now = time.time()
    reset_at = tightest.window.reset_time  # Flask-Limiter's reset_at adds a second on top
    reset_in = max(0, math.ceil(reset_at - now))
    response.headers["X-RateLimit-Limit"] = str(tightest.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(max(0, tightest.remaining))
    response.headers["X-RateLimit-Reset"] = str(math.ceil(reset_at))
    response.headers["RateLimit-Policy"] = ", ".join(
        f'"{_policy_name(lim)}";q={lim.limit.amount};w={lim.limit.get_expiry()}' for lim in applied
    )
    response.headers["RateLimit"] = f'"{_policy_name(tightest)}";r={max(0, tightest.remaining)};t={reset_in}'
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, reset_in))
    return response


def validate_limits(app: Flask) -> None:
    """Fail at start-up, not on a request, if a configured limit string cannot be parsed."""
    for name in ("RATE_LIMIT", "POLL_RATE_LIMIT", "ANONYMOUS_RATE_LIMIT", "REGISTER_RATE_LIMIT",
                 "LOGIN_RATE_LIMIT", "LOGIN_IP_RATE_LIMIT", "LOGIN_USERNAME_RATE_LIMIT", "FORGOT_PASSWORD_RATE_LIMIT"):
        try:
            parse_many(app.config[name])
        except ValueError:
            raise ConfigError(f"{name} must look like '100/minute', got {app.config[name]!r}") from None


