"""The result cache: an identical request from the same account is answered without an upstream call.

A request is identified by its canonical JSON (the validated body, defaults applied, keys
sorted) together with the account and the kind of request. Redis key names are HMACs
under a key derived from SECRET_KEY, so they reveal neither the patient history nor the
account; values are encrypted with the data key.

The upstream samples its futures, so a stored prediction is only an answer when the client
says so: `Cache-Control: max-age=N` accepts a result at most N seconds old; without it
every prediction is a new sample. Embeddings are deterministic and are answered from the
cache by default (`no-cache` asks for a fresh one, `max-age=N` bounds the age).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

from config import ConfigError
from proxyapp.crypto import decrypt_json, encrypt_json
from proxyapp.models import Prediction, PredictionStatus, utcnow
from proxyapp.queue import get_redis, redis_key, write_later
from proxyapp.services.accounts.redis_index import add_to_index

log = logging.getLogger(__name__)
_KEY_PURPOSE = b"proxyapp result cache v1"


def is_enabled() -> bool:
    """False when CACHE_TTL is 0."""
    return current_app.config["CACHE_TTL"] > 0


def _cache_secret() -> bytes:
    # A purpose-specific key: the same SECRET_KEY signs sessions and idempotency records.
    return hmac.new(current_app.config["SECRET_KEY"].encode(), _KEY_PURPOSE, hashlib.sha256).digest()


def cache_key(user_id: int, kind: str, payload: dict[str, Any]) -> str:
    """The Redis key name of a request: an HMAC of account, kind and canonical body."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = "\x1f".join((str(user_id), kind, canonical)).encode()
    return redis_key("cache", hmac.new(_cache_secret(), message, hashlib.sha256).hexdigest())


def lookup(user_id: int, kind: str, payload: dict[str, Any], max_age: int) -> dict[str, Any] | None:
    """The stored output of an identical earlier request of the account at most `max_age` s old, or None."""
    if not is_enabled() or max_age <= 0:
        return None
    with get_redis().pipeline(transaction=False) as pipe:
        key = cache_key(user_id, kind, payload)
        stored, ttl_ms = pipe.get(key).pttl(key).execute()
    # Entries live CACHE_TTL seconds from their store, so what is left of the TTL gives the age.
    if stored is None or current_app.config["CACHE_TTL"] - ttl_ms / 1000 > max_age:
        return None
    try:
        return decrypt_json(stored.decode())
    except ConfigError:
        # Written under a data key since retired: a miss, and the next success overwrites it.
        return None


def store(user_id: int, kind: str, payload: dict[str, Any], output: dict[str, Any]) -> None:
    """Remember a successful output for CACHE_TTL seconds (encrypted); a Redis failure is only logged."""
    if not is_enabled():
        return
    try:
        key, value, ttl = cache_key(user_id, kind, payload), encrypt_json(output), current_app.config["CACHE_TTL"]
        write_later(lambda pipe: add_to_index(pipe.set(key, value, ex=ttl), user_id, key))
    except RedisError:
        # The prediction has already succeeded; a lost entry only costs a later upstream call.
        log.warning("could not store a result in the cache")


def mark_hit(prediction: Prediction, output: dict[str, Any]) -> None:
    """Make an unsaved prediction a finished one answered from the cache."""
    now = utcnow()
    prediction.status = PredictionStatus.SUCCEEDED.value
    prediction.cached = True
    prediction.output = output
    prediction.attempts = 0
    prediction.started_at = prediction.created_at = prediction.completed_at = now
