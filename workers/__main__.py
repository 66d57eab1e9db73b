"""Worker entry point: `python -m workers [--burst]`. Waits for Redis, then works the queue."""

from __future__ import annotations

import argparse
import logging

from dotenv import load_dotenv
from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer

from proxyapp import create_app
from proxyapp.embedded_redis import wait_for_redis
from workers.context import set_app

WORKER_CLASSES = {"simple": SimpleWorker, "fork": Worker}


def main() -> None:
    """Build the app once, then process jobs until stopped."""
    parser = argparse.ArgumentParser(description="proxyapp RQ worker")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--worker-class", choices=sorted(WORKER_CLASSES), default="simple",
                        help="simple: jobs run in this process, keeping upstream connections pooled")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for Redis at start")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    load_dotenv()
    app = create_app()
    wait_for_redis(app.config["REDIS_URL"], timeout=args.wait)
    set_app(app)
    # The worker blocks on BLPOP for minutes, so its connection has no socket timeout.
    connection = Redis.from_url(app.config["REDIS_URL"], health_check_interval=30)
    with app.app_context():
        queue = Queue(app.config["QUEUE_NAME"], connection=connection, serializer=JSONSerializer)
        worker = WORKER_CLASSES[args.worker_class]([queue], connection=connection, serializer=JSONSerializer)
        worker.work(burst=args.burst, with_scheduler=True)


if __name__ == "__main__":
    main()
