"""Absolute URLs from configuration: PUBLIC_URL when set, never the client's Host header."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote as url_quote

from flask import current_app, g, has_request_context, request, url_for


def public_url_for(endpoint: str, **values: Any) -> str:
    """The absolute URL of an endpoint: PUBLIC_URL plus the route's path.

    Without PUBLIC_URL (development and tests), Flask builds it from the request as usual.
    """
    origin = current_app.config.get("PUBLIC_URL")
    if not origin:
        return url_for(endpoint, _external=True, **values)
    return origin + url_for(endpoint, **values)


PREDICTION_LINKS = (("get", "api.get_prediction"), ("cancel", "api.cancel_prediction"),
                    ("stream", "api.prediction_events"))
_ID_SLOT = "{id}"


def prediction_urls(prediction_id: str) -> dict[str, str]:
    """The prediction's get, cancel and stream URLs.

    The routes are built once per request (and origin) with a placeholder for the id: a
    listing of 100 predictions would otherwise build 300 URLs through the URL map.
    """
    origin = request.root_url if has_request_context() else ""
    built = g.setdefault("prediction_url_templates", {})
    if origin not in built:
        built[origin] = [(name, public_url_for(endpoint, prediction_id=_ID_SLOT).rpartition(url_quote(_ID_SLOT)))
                         for name, endpoint in PREDICTION_LINKS]
    return {name: f"{head}{prediction_id}{tail}" for name, (head, _, tail) in built[origin]}


def public_request_url(scheme: str | None = None) -> str:
    """The current request's URL (path and query) under PUBLIC_URL, or under `scheme` without one."""
    origin = current_app.config.get("PUBLIC_URL")
    if origin:
        path = request.full_path if request.query_string else request.path
        return origin + request.script_root + path
    url = request.url
    return url.replace(f"{request.scheme}://", f"{scheme}://", 1) if scheme else url


def public_origin() -> str:
    """The origin clients use: PUBLIC_URL, or (development and tests) the current request's."""
    return current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")


@contextmanager
def links_from(origin: str | None) -> Iterator[None]:
    """Build absolute links off-request (a worker) as under `origin`; PUBLIC_URL, when set, wins.

    Flask builds no URL outside a request without SERVER_NAME, so off-request the links are
    built in a request context of that origin (PUBLIC_URL is an origin: no path to repeat).
    """
    base = current_app.config.get("PUBLIC_URL") or origin
    if has_request_context() or not base:
        yield
        return
    with current_app.test_request_context(base_url=base):
        yield
