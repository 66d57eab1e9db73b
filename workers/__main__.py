"""Worker entry point: `python -m workers [--burst]`. Waits for Redis, then works the queue."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from dotenv import load_dotenv
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer

from proxyapp import create_app
from proxyapp.embedded_redis import wait_for_redis
from proxyapp.logs import configure_logging
from workers.context import set_app
from workers.upkeep import start_upkeep

log = logging.getLogger("workers")


class _StopAware:
    """Remembers a shutdown request, so a return from `work()` can be told apart from a Redis outage."""

    stop_asked = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Note the request, then let RQ stop warmly."""
        self.stop_asked = True
        super().request_stop(signum, frame)  # type: ignore[misc]


class PredictionWorker(_StopAware, SimpleWorker):
    """Runs jobs in its own process, keeping upstream connections pooled."""


class ForkingPredictionWorker(_StopAware, Worker):
    """Forks a work horse per job."""


WORKER_CLASSES = {"simple": PredictionWorker, "fork": ForkingPredictionWorker}


def make_worker(app: Flask, worker_class: str) -> SimpleWorker | Worker:
    """A worker on the prediction queue with the configured monitoring and maintenance intervals."""
    # The worker blocks on BLPOP for minutes, so its connection has no socket timeout.
    connection = Redis.from_url(app.config["REDIS_URL"], health_check_interval=30)
    queue = Queue(app.config["QUEUE_NAME"], connection=connection, serializer=JSONSerializer)
    return WORKER_CLASSES[worker_class](
        [queue], connection=connection, serializer=JSONSerializer,
        maintenance_interval=app.config["WORKER_MAINTENANCE_INTERVAL"],
        job_monitoring_interval=app.config["WORKER_MONITORING_INTERVAL"],
    )


def main() -> None:
    """Build the app once, then process jobs until stopped, starting over after a Redis outage."""
    parser = argparse.ArgumentParser(description="proxyapp RQ worker")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--worker-class", choices=sorted(WORKER_CLASSES), default="simple",
                        help="simple: jobs run in this process, keeping upstream connections pooled")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for Redis at start")
    args = parser.parse_args()
    configure_logging()

    load_dotenv()
    app = create_app()
    set_app(app)
    start_upkeep(app)
    while True:
        wait_for_redis(app.config["REDIS_URL"], timeout=args.wait)
        worker = make_worker(app, args.worker_class)
        try:
            with app.app_context():
                worker.work(burst=args.burst)
        except RedisError as error:
            log.warning("worker lost Redis (%s); starting over once it answers", type(error).__name__)
        if args.burst or worker.stop_asked:
            return
        # RQ's handlers belong to the finished worker; until the next one starts, a signal just ends us.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)


if __name__ == "__main__":
    main()
