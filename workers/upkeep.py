"""The reconciler loop, shared by the scheduler process and a daemon thread in every worker.

Recovery must not depend on a separate `scheduler` process: every `python -m workers`
starts `start_upkeep(app)`, so with only `web` and `worker` running a killed worker's
prediction is still re-run. The Redis lock in `run_due_pass` lets one pass through per
interval whichever process holds it. Each tick also records this process's heartbeat,
which /readyz and /metrics use to tell a live worker from a killed one. A pass that
raises anything is logged and counted (`proxyapp_reconciler_errors_total`) and the loop
goes on: recovery stopping is worse than any one failed pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from proxyapp.extensions import db
from proxyapp.metrics.shared import record_reconciler_error
from proxyapp.services.operations.readings import record_worker_beat
from proxyapp.services.predictions.holding import enqueue_due_held_jobs
from proxyapp.services.predictions.reconcile import run_due_pass

log = logging.getLogger("workers.upkeep")


def run_once(app: Flask, *, beat: bool = False) -> None:
    """One tick: maybe a reconciler pass (and a heartbeat); never raises."""
    with app.app_context():
        try:
            if beat:
                record_worker_beat()
                enqueue_due_held_jobs()
            run_due_pass()
        except Exception as error:
            log.warning("reconciler pass failed (%s); trying again next interval", type(error).__name__,
                        exc_info=not _is_outage(error))
            record_reconciler_error(type(error).__name__)
        finally:
            db.session.remove()


def run_forever(app: Flask, stop: threading.Event, *, beat: bool = False,
                tick: Callable[..., None] = run_once) -> None:
    """Tick every RECONCILE_INTERVAL_SECONDS until `stop` is set."""
    interval = app.config["RECONCILE_INTERVAL_SECONDS"]
    while not stop.is_set():
        tick(app, beat=beat)
        stop.wait(interval)


def start_upkeep(app: Flask) -> threading.Event:
    """Run the reconciler and this worker's heartbeat in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(app, stop), kwargs={"beat": True}, name="upkeep",
                              daemon=True)
    thread.start()
    return stop


def _is_outage(error: Exception) -> bool:
    """Outages are expected and logged without a traceback; anything else gets one."""
    return isinstance(error, RedisError | SQLAlchemyError)
