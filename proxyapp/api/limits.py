"""The API's rate-limit windows: per key and per account, submissions and polls apart.

Every /v1 request with a valid key counts against two moving windows, one for the key and
one for the account, so more keys never mean more quota. Requests without a valid key
count only against a per-IP window and create no per-key state. Flask-Limiter checks
limits in `before_request`, before the API's own authentication, so the key functions
resolve the key themselves (once per request, cached in `g`). Which limit applies, the
scopes and whose window it is come from proxyapp/services/limits/rules.py; this module wires them.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from flask_limiter.util import get_remote_address
from limits.errors import StorageError
from redis.exceptions import RedisError

from proxyapp.api.auth import resolve_api_key
from proxyapp.api.parsing import json_body
from proxyapp.extensions import limiter
from proxyapp.schemas import MAX_BATCH_SIZE
from proxyapp.services.limits.rules import (
    Scope,
    account_identity,
    anonymous_limit,
    key_identity,
    poll_limit,
    submission_limit,
)
from proxyapp.services.limits.usage import record_request

log = logging.getLogger(__name__)


def _has_key() -> bool:
    return resolve_api_key() is not None


def _anonymous() -> bool:
    return resolve_api_key() is None


def _key_identity() -> str:
    return key_identity(resolve_api_key().id)


def _account_identity() -> str:
    return account_identity(resolve_api_key().user_id)


def _submission_limit() -> str:
    api_key = resolve_api_key()
    return submission_limit(api_key.user if api_key else None)


def submission_cost() -> int:
    """What a POST costs: a batch one per item (1..MAX_BATCH_SIZE), anything else 1."""
    if request.endpoint != "api.create_batch":
        return 1
    body = json_body()
    items = body.get("predictions") if isinstance(body, dict) else None
    # Bounded both ways: an empty or malformed batch still costs a request, a huge one no more than the cap.
    return min(max(len(items), 1), MAX_BATCH_SIZE) if isinstance(items, list) else 1


def limit_api(bp: Blueprint) -> None:
    """Attach the API's windows to every route of the blueprint (counters shared across routes)."""
    windows = [
        (Scope.SUBMIT_KEY, _submission_limit, _key_identity, ["POST"], _anonymous, submission_cost),
        (Scope.SUBMIT_ACCOUNT, _submission_limit, _account_identity, ["POST"], _anonymous, submission_cost),
        (Scope.POLL_KEY, poll_limit, _key_identity, ["GET"], _anonymous, 1),
        (Scope.POLL_ACCOUNT, poll_limit, _account_identity, ["GET"], _anonymous, 1),
        (Scope.ANONYMOUS, anonymous_limit, get_remote_address, None, _has_key, 1),
    ]
    for scope, value, key_func, methods, exempt_when, cost in windows:
        limiter.shared_limit(value, scope=scope, key_func=key_func, methods=methods, exempt_when=exempt_when,
                             cost=cost)(bp)


def count_request(response: Response) -> Response:
    """Count an authenticated API request towards the account's daily usage."""
    api_key = resolve_api_key()
    if api_key is not None and response.status_code != 503:  # 503: Redis is already known to be down
        try:
            record_request(api_key.user, api_key.id)
        except (RedisError, StorageError):
            log.warning("could not count a request towards daily usage")
    return response
