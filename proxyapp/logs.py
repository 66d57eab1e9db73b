"""Structured JSON logs. A request line carries ids, route, status and timing — never a key,
a password, or a body (bodies are patient data).

Every process (web, worker, scheduler) writes the same JSON. Fields bound to the running
thread (`log_fields`, `bind_log_fields`: a request's id, a job's prediction and attempt) are
added to each line written meanwhile, RQ's own lines included, by `ContextFieldsFilter`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from proxyapp.errors import request_id

request_log = logging.getLogger("proxyapp.request")
# Attributes every LogRecord has; anything else was passed with `extra=` and is logged.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Each thread (and each forked work horse) has its own value: slots never see each other's fields.
_bound: ContextVar[dict[str, Any]] = ContextVar("proxyapp_log_fields")


def bound_log_fields() -> dict[str, Any]:
    """The fields bound to the current thread's log lines."""
    return _bound.get({})


def _merged(fields: dict[str, Any]) -> dict[str, Any]:
    return {**bound_log_fields(), **{name: value for name, value in fields.items() if value is not None}}


def bind_log_fields(**fields: Any) -> None:
    """Add fields (None ones are skipped) to every later log line of this thread, until cleared or reset."""
    _bound.set(_merged(fields))


def clear_log_fields() -> None:
    """Drop every bound field (a worker slot, after its job)."""
    _bound.set({})


@contextmanager
def log_fields(**fields: Any) -> Iterator[None]:
    """Add fields to the log lines written inside the block; the previous fields come back after it."""
    token = _bound.set(_merged(fields))
    try:
        yield
    finally:
        _bound.reset(token)


def current_request_id() -> str | None:
    """The id of the request being served, or in a job the id of the request that submitted it."""
    if has_request_context():
        return request_id()
    return bound_log_fields().get("request_id")


class ContextFieldsFilter(logging.Filter):
    """Copies the bound fields onto each record, never over a field the call passed with `extra=`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record."""
        for name, value in bound_log_fields().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON (process entry points call this once)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.formatter.converter = time.gmtime
    handler.addFilter(ContextFieldsFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.log_fields_token = _bound.set(_merged({"request_id": request_id()}))


def _unbind_request(error: BaseException | None) -> None:
    token = g.pop("log_fields_token", None)
    if token is not None:
        _bound.reset(token)


def _log_request(response: Response) -> Response:
    started = g.get("request_started")
    api_key = g.get("api_key")
    request_log.info(
        "request",
        extra={
            "request_id": request_id(),
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "key_prefix": api_key.display_prefix if api_key is not None else None,
        },
    )
    return response


def init_request_logging(app: Flask) -> None:
    """Log one line per request."""
    app.before_request(_start_request)
    app.after_request(_log_request)
    app.teardown_request(_unbind_request)
