"""Each app's metrics registry: request metrics, process metrics and the deployment collector."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from prometheus_client import CollectorRegistry, ProcessCollector, disable_created_metrics
from prometheus_client.exposition import choose_encoder

from proxyapp.metrics.build import register_build_info
from proxyapp.metrics.collector import DeploymentCollector
from proxyapp.metrics.http import HttpMetrics, init_http_metrics


@dataclass(frozen=True)
class AppMetrics:
    """What create_app attaches as `app.extensions["metrics"]`."""

    registry: CollectorRegistry
    http: HttpMetrics


def init_metrics(app: Flask) -> None:
    """Give the app its own registry (never the global one: tests build many apps per process)."""
    disable_created_metrics()  # `_created` series would double the output; nothing here reads them
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(DeploymentCollector())
    register_build_info(registry, app.config.get("BUILD_COMMIT"))
    app.extensions["metrics"] = AppMetrics(registry, HttpMetrics(registry))
    init_http_metrics(app)


def render_metrics(accept: str | None) -> tuple[bytes, str]:
    """The current app's metrics in the format the scraper accepts (OpenMetrics or Prometheus text)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(current_app.extensions["metrics"].registry), content_type
