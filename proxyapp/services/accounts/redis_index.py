"""An index of each account's Redis entries (result cache, idempotency records), so deleting the account removes them.

Their key names are HMACs of the account id and the request, which cannot be listed by
account; so every write also adds the key name to a per-account set (itself named by an
HMAC of the id), in the same round trip. Deleting the account deletes every key in the
set. This also matters on SQLite, which may give a new account the id of a deleted one.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from redis.client import Pipeline

from proxyapp.queue import get_redis, redis_key

_PURPOSE = b"proxyapp account redis index v1"


def index_key(user_id: int) -> str:
    """The Redis set that lists the account's entries."""
    secret = hmac.new(current_app.config["SECRET_KEY"].encode(), _PURPOSE, hashlib.sha256).digest()
    return redis_key("account-index", hmac.new(secret, str(user_id).encode(), hashlib.sha256).hexdigest())


def add_to_index(pipe: Pipeline, user_id: int, key: str) -> None:
    """Queue on `pipe`: remember `key` as the account's, for as long as any indexed entry may live."""
    index = index_key(user_id)
    pipe.sadd(index, key)
    config = current_app.config
    pipe.expire(index, max(config["CACHE_TTL"], config["IDEMPOTENCY_TTL_SECONDS"], 1))


def forget_account(user_id: int) -> int:
    """Delete every indexed Redis entry of the account and the index; how many entries went."""
    redis = get_redis()
    index = index_key(user_id)
    keys = [key.decode() for key in redis.smembers(index)]
    with redis.pipeline(transaction=True) as pipe:
        if keys:
            pipe.delete(*keys)
        pipe.delete(index)
        removed = pipe.execute()
    return int(removed[0]) if keys else 0
