"""Absolute URLs from configuration: PUBLIC_URL when set, never the client's Host header."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, has_request_context, request, url_for


def public_url_for(endpoint: str, **values: Any) -> str:
    """The absolute URL of an endpoint: PUBLIC_URL plus the route's path.

    Without PUBLIC_URL (development and tests), Flask builds it from the request as usual.
    """
    origin = current_app.config.get("PUBLIC_URL")
    if not origin:
        return url_for(endpoint, _external=True, **values)
    return origin + url_for(endpoint, **values)


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
    """Build absolute links off-request (a worker) as under `origin`; PUBLIC_URL, when set, wins."""
    if current_app.config.get("PUBLIC_URL") or has_request_context() or not origin:
        yield
        return
    with current_app.test_request_context(base_url=origin):
        yield
