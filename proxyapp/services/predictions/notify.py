"""Finish notifications: how a `Prefer: wait` request learns that its prediction is done.

Whoever moves a prediction to a terminal state pushes a token onto a short-lived
per-prediction list; a waiting request blocks on that list (BLMOVE from the list onto
itself, so the token stays for every other waiter) instead of polling the database.
Both sides are best effort: the database stays the source of truth, and a Redis
failure only means the waiter answers 202 when its time is up.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from proxyapp.queue import MAX_BLOCKING_SECONDS, get_blocking_redis, redis_key, write_later

log = logging.getLogger(__name__)

# Long enough to cover the moment between a waiter's database read and its blocking call.
NOTIFICATION_TTL_SECONDS = 2 * MAX_BLOCKING_SECONDS


def _key(prediction_id: str) -> str:
    return redis_key("finished", prediction_id)


def announce_finished(prediction_id: str) -> None:
    """Wake every request waiting for this prediction."""
    key = _key(prediction_id)
    try:
        write_later(lambda pipe: pipe.lpush(key, "1").expire(key, NOTIFICATION_TTL_SECONDS))
    except RedisError:
        log.warning("could not announce a finished prediction; waiters time out instead",
                    extra={"prediction_id": prediction_id})


def wait_until_announced(prediction_id: str, seconds: float) -> bool:
    """Block up to `seconds` for the prediction's finish announcement; True if it came."""
    if seconds <= 0:
        return False
    key = _key(prediction_id)
    timeout = min(seconds, MAX_BLOCKING_SECONDS - 1)
    try:
        return get_blocking_redis().blmove(key, key, timeout, "RIGHT", "LEFT") is not None
    except RedisError:
        log.warning("could not wait for a prediction; answering without waiting",
                    extra={"prediction_id": prediction_id})
        return False
