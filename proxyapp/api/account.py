"""The caller's own account, key, limits and usage."""

from __future__ import annotations

from flask import Response, jsonify

from proxyapp.api.auth import current_account, current_api_key
from proxyapp.schemas import MeSchema
from proxyapp.services.usage import account_summary


def me() -> Response:
    """Who the key belongs to, which key it is, and the account's limits and usage."""
    return jsonify(MeSchema().dump(account_summary(current_account(), current_api_key())))
