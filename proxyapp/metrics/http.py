"""Per-process request metrics: count and latency by route and status, rate-limit rejections.

These are ordinary prometheus-client metrics (thread-safe, so every waitress thread adds
to the same ones) in the app's own registry. They describe the process that served the
requests: Prometheus scrapes each web process and sums across them.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram

from proxyapp.extensions import limiter

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 65.0)
UNMATCHED_ROUTE = "unmatched"  # 404s and 405s: the raw path would let clients mint label values


class HttpMetrics:
    """The request instruments of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("method", "route", "status")
        self.requests = Counter("proxyapp_http_requests", "HTTP requests served by this process.", labels,
                                registry=registry)
        self.duration = Histogram("proxyapp_http_request_duration_seconds", "Time to answer an HTTP request.",
                                  labels, buckets=REQUEST_BUCKETS, registry=registry)
        self.rejections = Counter("proxyapp_rate_limit_rejections", "Requests answered 429, by route and reason "
                                  "(rate_limited: a rate limit; too_many_pending: the pending cap).",
                                  ("route", "reason"), registry=registry)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _rejection_reason() -> str:
    """Why a 429 was sent: a breached Flask-Limiter window, or else the pending cap."""
    return "rate_limited" if any(limit.breached for limit in limiter.current_limits) else "too_many_pending"


def _observe(response: Response) -> Response:
    metrics: HttpMetrics = current_app.extensions["metrics"].http
    route = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
    labels = (request.method, route, str(response.status_code))
    metrics.requests.labels(*labels).inc()
    started = g.get("metrics_started")
    if started is not None:
        metrics.duration.labels(*labels).observe(time.perf_counter() - started)
    if response.status_code == 429:
        metrics.rejections.labels(route, _rejection_reason()).inc()
    return response


def init_http_metrics(app: Flask) -> None:
    """Time every request; call before other hooks so the timer starts first and the count comes last."""
    app.before_request(_start_timer)
    app.after_request(_observe)
