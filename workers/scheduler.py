"""`python -m workers.scheduler`: the periodic reconciler and retention purge (Procfile `scheduler`).

Optional since every worker runs the same reconciler in a thread (workers/upkeep.py);
a scheduler keeps recovery and the purge going while no worker runs.

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

from proxyapp import create_app
from proxyapp.logs import configure_logging
from proxyapp.queue import wait_for_redis
from workers.upkeep import run_forever

log = logging.getLogger("workers.scheduler")


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
