"""Idempotency keys: a client's retry of a submission returns the original prediction.

Each (account, Idempotency-Key) pair maps, for IDEMPOTENCY_TTL_SECONDS, to the
prediction it created and a fingerprint of the request body. Redis key names and
values hold only HMACs (keyed with SECRET_KEY) and our own prediction ids: never the
client's string and never patient data. SET NX decides which of two concurrent
identical requests created the prediction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from flask import current_app

from proxyapp.errors import BadRequest, ValidationFailed
from proxyapp.queue import get_redis, redis_key
from proxyapp.services.accounts.redis_index import add_to_index

MAX_KEY_LENGTH = 255
HEADER = "Idempotency-Key"
_FORGET = """
local stored = redis.call('GET', KEYS[1])
if stored and string.sub(stored, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def check_key(value: str) -> str:
    """The header value if usable as a key; 400 if empty, too long or not printable ASCII."""
    if not 0 < len(value) <= MAX_KEY_LENGTH or not value.isascii() or not value.isprintable():
        raise BadRequest(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
    return value


def _digest(*parts: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def _redis_key(user_id: int, key: str) -> str:
    return redis_key("idempotency", _digest("key", str(user_id), key))


def fingerprint(payload: dict[str, Any]) -> str:
    """An HMAC of the validated body, the same for the same request whatever its key order."""
    return _digest("body", json.dumps(payload, sort_keys=True, separators=(",", ":")))


def recorded_prediction_id(user_id: int, key: str, payload: dict[str, Any]) -> str | None:
    """The prediction this key created, or None; 422 if the key came with another body."""
    stored = get_redis().get(_redis_key(user_id, key))
    if stored is None:
        return None
    prediction_id, _, body_fingerprint = stored.decode().partition(":")
    if not hmac.compare_digest(body_fingerprint, fingerprint(payload)):
        raise ValidationFailed(f"This {HEADER} was already used with a different request body.",
                               details={HEADER: ["Use a new key for a different request."]})
    return prediction_id


def record(user_id: int, key: str, payload: dict[str, Any], prediction_id: str) -> bool:
    """Remember that this key created the prediction; False if another request got there first."""
    value = f"{prediction_id}:{fingerprint(payload)}"
    ttl = current_app.config["IDEMPOTENCY_TTL_SECONDS"]
    redis_name = _redis_key(user_id, key)
    with get_redis().pipeline(transaction=False) as pipe:
        pipe.set(redis_name, value, nx=True, ex=ttl)
        add_to_index(pipe, user_id, redis_name)
        return bool(pipe.execute()[0])


def forget(user_id: int, key: str, prediction_id: str) -> None:
    """Drop the record if it still points at this prediction (which no longer exists)."""
    get_redis().eval(_FORGET, 1, _redis_key(user_id, key), f"{prediction_id}:")
