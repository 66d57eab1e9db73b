"""Who may read /metrics: a bearer of METRICS_TOKEN, or (without a token) loopback clients only."""

from __future__ import annotations

import hmac
import ipaddress

from flask import current_app, request

from proxyapp.errors import Forbidden, Unauthorized

# Any of these means a proxy relayed the request, so its loopback address proves nothing.
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def require_metrics_access() -> None:
    """Raise 401 (wrong or missing token) or 403 (not loopback) unless the caller may read metrics."""
    token = current_app.config["METRICS_TOKEN"]
    if token:
        if not _presents(token):
            raise Unauthorized("Send the metrics token as `Authorization: Bearer <METRICS_TOKEN>`.",
                               headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return
    if not is_direct_loopback_client():
        raise Forbidden("Metrics are served to loopback clients only; set METRICS_TOKEN to scrape from elsewhere.")


def _presents(token: str) -> bool:
    auth = request.authorization
    given = auth.token if auth is not None and auth.type == "bearer" and auth.token else ""
    return hmac.compare_digest(given.encode(), token.encode())


def is_direct_loopback_client() -> bool:
    """True if the peer is a loopback address and no proxy relayed the request."""
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
