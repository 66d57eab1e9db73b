"""Worker entry point: `python -m workers [--burst] [--concurrency N]`. Waits for Redis, then works the queue.

One process runs WORKER_CONCURRENCY job slots (threads, each a registered RQ worker; see
workers/slots.py). `--worker-class fork` keeps RQ's forking worker, one job at a time.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time
from types import FrameType

from dotenv import load_dotenv
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from proxyapp import create_app
from proxyapp.logs import configure_logging
from proxyapp.queue import wait_for_redis
from workers.context import set_app
from workers.joblog import JobLoggingQueue, JobLoggingWorker
from workers.slots import SlotPool, SlotWorker, run_slot_until_done
from workers.upkeep import start_upkeep

log = logging.getLogger("workers")


class ForkingPredictionWorker(JobLoggingWorker, Worker):
    """Forks a work horse per job; remembers a stop request so a Redis outage can be told apart."""

    stop_asked = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Note the request, then let RQ stop warmly."""
        self.stop_asked = True
        super().request_stop(signum, frame)


def worker_connection(app: Flask) -> Redis:
    """The workers' Redis client: no socket timeout (slots block on the queue), no health-check PINGs."""
    return Redis.from_url(app.config["REDIS_URL"])


def _queue(app: Flask, connection: Redis) -> Queue:
    return JobLoggingQueue(app.config["QUEUE_NAME"], connection=connection, serializer=JSONSerializer)


def _worker_options(app: Flask) -> dict:
    return {"serializer": JSONSerializer, "queue_class": JobLoggingQueue,
            "maintenance_interval": app.config["WORKER_MAINTENANCE_INTERVAL"],
            "job_monitoring_interval": app.config["WORKER_MONITORING_INTERVAL"]}


def run_slots(app: Flask, concurrency: int, burst: bool, wait: float) -> None:
    """Work the queue with `concurrency` slots in this process until a warm shutdown completes."""
    wait_for_redis(app.config["REDIS_URL"], timeout=wait)

    def run_slot(worker: SlotWorker, burst: bool) -> None:
        with app.app_context():
            run_slot_until_done(lambda: worker.work(burst=burst))

    def on_redis_lost() -> None:
        time.sleep(1)
        wait_for_redis(app.config["REDIS_URL"], timeout=float("inf"))

    pool = SlotPool(lambda connection: _queue(app, connection), worker_connection(app), concurrency,
                    run_slot=run_slot, worker_options=_worker_options(app),
                    poll_seconds=app.config["WORKER_POLL_SECONDS"])
    log.info("worker started: %d slot(s) on queue %s", concurrency, app.config["QUEUE_NAME"])
    pool.run(burst=burst, on_redis_lost=on_redis_lost)


def run_forking(app: Flask, burst: bool, wait: float) -> None:
    """RQ's forking worker (a child per job), starting over after a Redis outage."""
    while True:
        wait_for_redis(app.config["REDIS_URL"], timeout=wait)
        connection = worker_connection(app)
        worker = ForkingPredictionWorker([_queue(app, connection)], connection=connection, **_worker_options(app))
        try:
            with app.app_context():
                worker.work(burst=burst)
        except RedisError as error:
            log.warning("worker lost Redis (%s); starting over once it answers", type(error).__name__)
        if burst or worker.stop_asked:
            return
        # RQ's handlers belong to the finished worker; until the next one starts, a signal just ends us.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def main() -> None:
    """Build the app once, then process jobs until stopped."""
    parser = argparse.ArgumentParser(description="proxyapp RQ worker")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--worker-class", choices=["slots", "fork"], default="slots",
                        help="slots: WORKER_CONCURRENCY jobs at once in this process (default)")
    parser.add_argument("--concurrency", type=int, help="job slots (default: WORKER_CONCURRENCY)")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for Redis at start")
    args = parser.parse_args()
    configure_logging()

    load_dotenv()
    app = create_app()
    set_app(app)
    start_upkeep(app)
    if args.worker_class == "fork":
        run_forking(app, args.burst, args.wait)
    else:
        run_slots(app, args.concurrency or app.config["WORKER_CONCURRENCY"], args.burst, args.wait)


if __name__ == "__main__":
    main()
