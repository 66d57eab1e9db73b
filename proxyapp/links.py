"""Absolute URLs from configuration: PUBLIC_URL when set, never the client's Host header."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for


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
