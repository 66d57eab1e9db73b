"""Counters and histograms that every process adds to in Redis and /metrics reads back.

Predictions finish in workers, in web processes (cancel) and in the scheduler (lost
runs); upstream calls happen in workers. prometheus-client's in-memory metrics would see
one process each, and its multiprocess mode only the processes of one host, so these
live in Redis hashes under the deployment's key prefix: /metrics on any web process
reports the deployment's totals. Writes are best effort: a Redis outage loses samples,
never a job or a request.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from flask import has_app_context
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from proxyapp.queue import redis_key, write_later

log = logging.getLogger(__name__)

UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SUCCESS = "ok"


def _field(labels: Sequence[str]) -> str:
    return json.dumps(list(labels), separators=(",", ":"))


def _write(build: Callable[[Pipeline], None]) -> None:
    """Send some increments in one round trip; outside an app (no Redis configured) do nothing."""
    if not has_app_context():
        return
    try:
        write_later(build)
    except RedisError as error:
        log.warning("could not record a metric sample (%s); it is lost", type(error).__name__)


class SharedCounter:
    """A labelled counter kept in one Redis hash: a field per label combination."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)

    def key(self) -> str:
        """The Redis hash of this counter in the current deployment."""
        return redis_key("metrics", self.name)

    def add(self, pipe: Pipeline, labels: Sequence[str], amount: float = 1) -> None:
        """Queue an increment on a pipeline."""
        pipe.hincrbyfloat(self.key(), _field(labels), amount)

    def collect(self, redis: Redis) -> Metric:
        """The counter family with every label combination seen so far."""
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for field, value in sorted(redis.hgetall(self.key()).items()):
            family.add_metric(json.loads(field), float(value))
        return family


class SharedHistogram(SharedCounter):
    """A labelled histogram: per label combination, one field per bucket plus the sum."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]) -> None:
        super().__init__(name, documentation, labelnames)
        self.bounds = (*buckets, math.inf)

    def observe(self, pipe: Pipeline, labels: Sequence[str], value: float) -> None:
        """Queue one observation: the count of its (non-cumulative) bucket and the sum."""
        bound = next(bound for bound in self.bounds if value <= bound)
        pipe.hincrby(self.key(), _field([*labels, floatToGoString(bound)]), 1)
        pipe.hincrbyfloat(self.key(), _field([*labels, "sum"]), value)

    def collect(self, redis: Redis) -> Metric:
        """The histogram family, buckets made cumulative as Prometheus expects."""
        series: dict[tuple[str, ...], dict[str, float]] = {}
        for field, value in redis.hgetall(self.key()).items():
            *labels, part = json.loads(field)
            series.setdefault(tuple(labels), {})[part] = float(value)
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, parts in sorted(series.items()):
            bounds = [floatToGoString(bound) for bound in self.bounds]
            cumulative = [sum(parts.get(b, 0.0) for b in bounds[: i + 1]) for i in range(len(bounds))]
            family.add_metric(list(labels), list(zip(bounds, cumulative, strict=True)), parts.get("sum", 0.0))
        return family


PREDICTIONS_FINISHED = SharedCounter(
    "proxyapp_predictions_finished", "Predictions that reached a terminal status, by status and error code.",
    ("status", "error_code"))
UPSTREAM_DURATION = SharedHistogram(
    "proxyapp_upstream_request_duration_seconds", "Upstream /predict calls by outcome (ok or the error class).",
    ("outcome",), UPSTREAM_BUCKETS)
UPSTREAM_ERRORS = SharedCounter(
    "proxyapp_upstream_errors", "Failed upstream /predict calls by error class.", ("error",))
RECONCILER_ERRORS = SharedCounter(
    "proxyapp_reconciler_errors", "Reconciler passes (or single recoveries) that raised, by exception class.",
    ("error",))
SHARED_METRICS = (PREDICTIONS_FINISHED, UPSTREAM_DURATION, UPSTREAM_ERRORS, RECONCILER_ERRORS)


def record_finished(status: str, error_code: str | None = None) -> None:
    """Count a prediction that just reached a terminal status."""
    _write(lambda pipe: PREDICTIONS_FINISHED.add(pipe, (status, error_code or "")))


def record_reconciler_error(error: str) -> None:
    """Count a reconciler failure that was logged and outlived."""
    _write(lambda pipe: RECONCILER_ERRORS.add(pipe, (error,)))


def record_upstream_call(outcome: str, seconds: float) -> None:
    """Count one upstream call and its duration; `outcome` is `ok` or the error class."""
    def build(pipe: Pipeline) -> None:
        UPSTREAM_DURATION.observe(pipe, (outcome,), seconds)
        if outcome != SUCCESS:
            UPSTREAM_ERRORS.add(pipe, (outcome,))
    _write(build)


@contextmanager
def observe_upstream_call() -> Iterator[None]:
    """Time the upstream call in the block; an exception's `code` (an UpstreamErrorCode) names its class."""
    started = time.perf_counter()
    try:
        yield
    except Exception as error:
        code = getattr(error, "code", None)
        record_upstream_call(getattr(code, "value", None) or type(error).__name__, time.perf_counter() - started)
        raise
    record_upstream_call(SUCCESS, time.perf_counter() - started)
