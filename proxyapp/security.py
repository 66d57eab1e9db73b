"""Transport and header hardening: proxy trust, HTTPS enforcement, security headers."""

from __future__ import annotations

from flask import Flask, Response, redirect, request
from werkzeug.middleware.proxy_fix import ProxyFix

from proxyapp.errors import HttpsRequired, wants_json
from proxyapp.links import public_request_url

HSTS = "max-age=31536000; includeSubDomains"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Load balancers probe these, and Prometheus scrapes, over plain HTTP inside the network.
PLAIN_HTTP_ALLOWED = ("/healthz", "/readyz", "/metrics")
# Responses that carry keys, account data or patient data must never be cached.
NO_STORE_PREFIXES = ("/v1/", "/account", "/admin", "/register", "/login")


def trust_proxies(app: Flask) -> None:
    """The single proxy-trust layer: honour X-Forwarded-* from exactly TRUSTED_PROXIES hops."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def enforce_https() -> Response | None:
    """With FORCE_HTTPS: API calls over plain HTTP are refused (a redirect would hide a leaked
    key that already crossed the network in clear); pages are redirected."""
    if request.is_secure or request.path.startswith(PLAIN_HTTP_ALLOWED):
        return None
    if wants_json():
        raise HttpsRequired("Use HTTPS. This request was sent in clear text; if it carried an API key, revoke that key.")
    if request.method in ("GET", "HEAD"):
        return redirect(public_request_url(scheme="https"), code=301)
    raise HttpsRequired("Use HTTPS.")


def add_security_headers(response: Response) -> Response:
    """Headers every response gets, errors included."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts against our host.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.path.startswith(NO_STORE_PREFIXES):
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_security(app: Flask) -> None:
    """Install proxy trust, HTTPS enforcement (when configured) and the header hook."""
    trust_proxies(app)
    if app.config["FORCE_HTTPS"]:
        app.before_request(enforce_https)
    app.after_request(add_security_headers)
