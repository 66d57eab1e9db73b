"""Readiness: can this deployment accept a prediction and run it right now?

Four checks gate readiness: the database answers, Redis answers, at least one worker is
alive on the prediction queue (by its heartbeat, so a killed worker stops counting within
seconds), and the upstream circuit is not open. Two more are reported but do not gate,
because taking the web process out of rotation would not fix them: `reconciler` (no pass
within three intervals) and `overdue_runs` (predictions running longer than JOB_TIMEOUT).
Each reports JSON detail and never an exception message (they can carry hosts, ports and
credentials).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from proxyapp.extensions import db
from proxyapp.queue import get_redis
from proxyapp.services.operations.readings import (
    SOURCE_ERRORS,
    is_reconciler_stale,
    live_workers,
    overdue_runs,
    reconciler_age,
)
from proxyapp.services.upstream.circuit import CircuitState, circuit_breaker

Check = dict[str, Any]
GATING_CHECKS = ("database", "redis", "workers", "upstream_circuit")


def check_readiness() -> tuple[bool, dict[str, Check]]:
    """Run every check; (ready, detail per check). Checks that need Redis are skipped when it is down."""
    checks = {"database": _timed(_database), "redis": _timed(_redis)}
    if checks["redis"]["ok"]:
        checks["workers"] = _timed(_workers)
        checks["upstream_circuit"] = _timed(_circuit)
        checks["reconciler"] = _timed(_reconciler)
    else:
        checks["workers"] = checks["upstream_circuit"] = checks["reconciler"] = {"ok": False,
                                                                                "error": "redis unavailable"}
    checks["overdue_runs"] = _timed(_overdue) if checks["database"]["ok"] else {"ok": False,
                                                                                 "error": "database unavailable"}
    return all(checks[name]["ok"] for name in GATING_CHECKS), checks


def _timed(check: Callable[[], Check]) -> Check:
    """Run one check, adding its duration; a dependency error becomes `ok: false` with its class name."""
    started = time.perf_counter()
    try:
        result = check()
    except SOURCE_ERRORS as error:
        db.session.rollback()
        result = {"ok": False, "error": type(error).__name__}
    return {**result, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> Check:
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    return {"ok": True}


def _redis() -> Check:
    get_redis().ping()
    return {"ok": True}


def _workers() -> Check:
    live = live_workers()
    return {"ok": live > 0, "live": live}


def _circuit() -> Check:
    state = circuit_breaker().state()
    return {"ok": state is not CircuitState.OPEN, "state": state.value}


def _reconciler() -> Check:
    age = reconciler_age()
    return {"ok": not is_reconciler_stale(age), "last_pass_age_seconds": None if age is None else round(age, 1)}


def _overdue() -> Check:
    count = overdue_runs()
    db.session.rollback()
    return {"ok": count == 0, "count": count}
