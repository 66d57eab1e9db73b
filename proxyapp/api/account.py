"""The caller's own account, key, limits and usage."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from proxyapp.api.auth import current_account, current_api_key
from proxyapp.openapi import build_openapi
from proxyapp.schemas import MeSchema, shared
from proxyapp.services.limits.usage import account_summary


def me() -> Response:
    """Who the key belongs to, which key it is, and the account's limits and usage."""
    return jsonify(shared(MeSchema).dump(account_summary(current_account(), current_api_key())))


def openapi() -> Response:
    """The OpenAPI 3 document of this API (public: no key needed)."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build_openapi()
    return jsonify(current_app.extensions["openapi"])
