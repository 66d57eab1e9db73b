"""The scrape-time collector: deployment-wide figures read from the database and Redis.

Queue, workers, circuit breaker and the shared counters are the same whichever web
process is scraped (aggregate them with `max`, not `sum`). A source that does not answer
is reported by `proxyapp_metrics_source_up` instead of failing the scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from proxyapp.extensions import db
from proxyapp.metrics.shared import SHARED_METRICS
from proxyapp.queue import get_redis
from proxyapp.services.operations.readings import (
    SOURCE_ERRORS,
    live_workers,
    overdue_runs,
    pending_figures,
    queue_depth,
    reconciler_age,
)
from proxyapp.services.upstream.circuit import CircuitState, circuit_breaker


def database_families() -> list[Metric]:
    """Pending predictions and the oldest queued one's age, from the clients' source of truth."""
    figures = pending_figures()
    pending = GaugeMetricFamily("proxyapp_predictions_pending", "Accepted predictions not finished yet, by status.",
                                labels=["status"])
    pending.add_metric(["queued"], figures.queued)
    pending.add_metric(["running"], figures.running)
    oldest = GaugeMetricFamily("proxyapp_queue_oldest_age_seconds",
                               "Seconds the oldest queued prediction has waited (0 when none is queued).",
                               value=figures.oldest_queued_age)
    overdue = GaugeMetricFamily("proxyapp_predictions_overdue",
                                "Predictions running longer than JOB_TIMEOUT (should be 0: nothing ended them).",
                                value=overdue_runs())
    return [pending, oldest, overdue]


def redis_families() -> list[Metric]:
    """Queue depth, live workers, the circuit breaker, and the counters every process shares."""
    state = circuit_breaker().state()
    circuit = GaugeMetricFamily("proxyapp_upstream_circuit_state", "1 for the upstream circuit breaker's state.",
                                labels=["state"])
    for each in CircuitState:
        circuit.add_metric([each.value], float(each is state))
    age = reconciler_age()
    return [
        GaugeMetricFamily("proxyapp_reconciler_last_pass_age_seconds",
                          "Seconds since any process finished a reconciler pass (+Inf if none on record).",
                          value=float("inf") if age is None else age),
        GaugeMetricFamily("proxyapp_queue_depth", "Jobs waiting in the prediction queue.", value=queue_depth()),
        GaugeMetricFamily("proxyapp_workers_live", "Live RQ workers on the prediction queue.", value=live_workers()),
        circuit,
        *(metric.collect(get_redis()) for metric in SHARED_METRICS),
    ]


SOURCES: dict[str, Callable[[], list[Metric]]] = {"database": database_families, "redis": redis_families}


class DeploymentCollector:
    """Reads every source at scrape time (needs the app context of the /metrics request)."""

    def describe(self) -> list[Metric]:
        """Nothing to pre-declare; registering must not touch the database or Redis."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Each source's families, then whether each source answered."""
        up = GaugeMetricFamily("proxyapp_metrics_source_up", "1 if the source answered during this scrape.",
                               labels=["source"])
        for source, read in SOURCES.items():
            try:
                families, answered = read(), 1.0
            except SOURCE_ERRORS:
                db.session.rollback()
                families, answered = [], 0.0
            up.add_metric([source], answered)
            yield from families
        yield up
