"""`python -m workers.scheduler`: the periodic reconciler and retention purge (Procfile `scheduler`).

A plain loop rather than RQ's CronScheduler: that one enqueues with RQ's default
(pickle) serializer, and the reconciler must keep running when the queue itself is
what broke. Several schedulers may run; a Redis lock lets one pass through per interval.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from dotenv import load_dotenv
from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from proxyapp import create_app
from proxyapp.embedded_redis import wait_for_redis
from proxyapp.extensions import db
from proxyapp.logs import configure_logging
from proxyapp.services.reconcile import run_due_pass

log = logging.getLogger("workers.scheduler")


def run_forever(app: Flask, stop: threading.Event) -> None:
    """Reconcile every RECONCILE_INTERVAL_SECONDS until `stop` is set; outages are logged and outlived."""
    interval = app.config["RECONCILE_INTERVAL_SECONDS"]
    while not stop.is_set():
        with app.app_context():
            try:
                run_due_pass()
            except (RedisError, SQLAlchemyError) as error:
                log.warning("reconciler pass skipped: %s unavailable", type(error).__name__)
            finally:
                db.session.remove()
        stop.wait(interval)


def main() -> None:
    """Run the scheduler until SIGTERM or SIGINT."""
    configure_logging()
    load_dotenv()
    app = create_app()
    stop = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    wait_for_redis(app.config["REDIS_URL"], timeout=60)
    log.info("scheduler started: reconciling every %.1f s", app.config["RECONCILE_INTERVAL_SECONDS"])
    run_forever(app, stop)


if __name__ == "__main__":
    main()
