"""The app's Redis connection and RQ queue (JSON serializer, never pickle)."""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

PREDICTION_JOB = "workers.predictions.run"


def connect_redis(url: str, socket_timeout: float) -> Redis:
    """A Redis client whose every call is bounded by the socket timeout."""
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=30,
    )


def init_queue(app: Flask) -> None:
    """Attach one Redis client (a connection pool) to the app."""
    app.extensions["redis"] = connect_redis(app.config["REDIS_URL"], app.config["REDIS_SOCKET_TIMEOUT"])


def get_redis() -> Redis:
    """The current app's Redis client."""
    return current_app.extensions["redis"]


def get_queue() -> Queue:
    """The prediction queue of the current app."""
    return Queue(current_app.config["QUEUE_NAME"], connection=get_redis(), serializer=JSONSerializer)
