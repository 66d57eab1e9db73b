"""Liveness, readiness and metrics views."""

from __future__ import annotations

from flask import Response, jsonify, request

from proxyapp.errors import DEPENDENCY_RETRY_AFTER
from proxyapp.metrics.registry import render_metrics
from proxyapp.ops.access import require_metrics_access
from proxyapp.services.operations.readiness import check_readiness


def healthz() -> Response:
    """Liveness: this process answers. Touches no database, Redis or upstream."""
    return jsonify(status="ok")


def readyz() -> Response:
    """Readiness: database, Redis, a live worker and a usable upstream circuit; 503 with detail if not."""
    ready, checks = check_readiness()
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = str(DEPENDENCY_RETRY_AFTER)
    return response


def metrics() -> Response:
    """Prometheus exposition, for a bearer of METRICS_TOKEN or, without one, loopback clients."""
    require_metrics_access()
    body, content_type = render_metrics(request.headers.get("Accept"))
    return Response(body, content_type=content_type)


def never_cache(response: Response) -> Response:
    """A probe or scrape must always see the present."""
    response.headers["Cache-Control"] = "no-store"
    return response
