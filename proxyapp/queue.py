"""The app's Redis connection and RQ queue (JSON serializer, never pickle)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, current_app
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue
from rq.serializers import JSONSerializer

from config import redis_client_options

log = logging.getLogger(__name__)
PREDICTION_JOB = "workers.predictions.run"
_batch: ContextVar[Pipeline | None] = ContextVar("proxyapp_redis_batch", default=None)
# The longest a request may block on Redis (`Prefer: wait`, at most 60 s), plus slack.
MAX_BLOCKING_SECONDS = 65


def connect_redis(url: str, socket_timeout: float) -> Redis:
    """A Redis client whose every call is bounded by the socket timeout."""
    return Redis.from_url(url, **redis_client_options(socket_timeout))


def wait_for_redis(url: str, timeout: float = 30.0) -> None:
    """Block until Redis answers PING, or raise TimeoutError naming the URL's host."""
    deadline = time.monotonic() + timeout
    client = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    while True:
        try:
            client.ping()
            return
        except RedisError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Redis did not answer within {timeout:.0f} s: {error}") from None
            time.sleep(0.1)
        finally:
            client.close()


def init_queue(app: Flask) -> None:
    """Attach one Redis client (a connection pool) to the app."""
    app.extensions["redis"] = connect_redis(app.config["REDIS_URL"], app.config["REDIS_SOCKET_TIMEOUT"])
    # Blocking waits need a longer socket timeout, but connecting must still fail fast.
    app.extensions["redis_blocking"] = Redis.from_url(
        app.config["REDIS_URL"],
        **{**redis_client_options(app.config["REDIS_SOCKET_TIMEOUT"]), "socket_timeout": MAX_BLOCKING_SECONDS},
    )


def get_redis() -> Redis:
    """The current app's Redis client."""
    return current_app.extensions["redis"]


def get_blocking_redis() -> Redis:
    """A client of the same Redis for blocking calls that may take up to a minute."""
    return current_app.extensions["redis_blocking"]


@contextmanager
def batched_writes() -> Iterator[None]:
    """Send the fire-and-forget Redis writes of the block (`write_later`) in one round trip at its end."""
    pipe = get_redis().pipeline(transaction=False)
    token = _batch.set(pipe)
    try:
        yield
    finally:
        _batch.reset(token)
        try:
            if len(pipe):
                pipe.execute()
        except RedisError as error:
            log.warning("could not send %d deferred Redis writes (%s)", len(pipe), type(error).__name__)
        finally:
            pipe.reset()


def write_later(build: Callable[[Pipeline], object]) -> None:
    """Queue writes whose answers nobody reads: into the open batch, else sent now in one pipeline."""
    pipe = _batch.get()
    if pipe is not None:
        build(pipe)
        return
    with get_redis().pipeline(transaction=False) as pipe:
        build(pipe)
        pipe.execute()


def redis_key(*parts: str) -> str:
    """A Redis key in this deployment's namespace (the queue name separates deployments)."""
    return ":".join(("proxyapp", current_app.config["QUEUE_NAME"], *parts))


def get_queue() -> Queue:
    """The prediction queue of the current app."""
    return Queue(current_app.config["QUEUE_NAME"], connection=get_redis(), serializer=JSONSerializer)
