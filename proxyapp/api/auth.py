"""API-key authentication for /v1: the session cookie is never accepted here."""

from __future__ import annotations

from flask import g, request

from proxyapp.errors import Forbidden, KeyExpired, Unauthorized
from proxyapp.models import ApiKey, User
from proxyapp.services.keys.tokens import find_key, touch_last_used

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="proxyapp"'}


def presented_key() -> str | None:
    """The key sent as `Authorization: Bearer …` or `X-API-Key`, if any."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def resolve_api_key() -> ApiKey | None:
    """The valid key of this request, resolved once per request (None if absent or invalid)."""
    if "api_key" not in g:
        presented = presented_key()
        g.stored_key = find_key(presented) if presented else None
        g.api_key = g.stored_key if g.stored_key is not None and g.stored_key.is_usable() else None
    return g.api_key


def _refusal(stored: ApiKey | None) -> Unauthorized:
    """The 401 for a presented key that does not authenticate: an expired one is told so."""
    if stored is None or stored.revoked_at is not None or stored.expires_at is None:
        return Unauthorized("The API key is not valid; it may have been mistyped or revoked.", headers=_CHALLENGE)
    if stored.rotated_at is not None:
        message = (f"This API key was replaced by rotation and stopped working at {stored.expires_at:%Y-%m-%d %H:%M} "
                   "UTC, when its grace period ended; use the key that replaced it.")
    else:
        message = (f"This API key expired at {stored.expires_at:%Y-%m-%d %H:%M} UTC; "
                   "create a new key on your account page.")
    return KeyExpired(message, headers=_CHALLENGE)


PUBLIC_ENDPOINTS = frozenset({"api.openapi"})


def require_api_key() -> None:
    """Authenticate the request or raise 401 (bad key) / 403 (disabled account)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if presented_key() is None:
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.", headers=_CHALLENGE)
    api_key = resolve_api_key()
    if api_key is None:
        raise _refusal(g.stored_key)
    if api_key.user.is_disabled:
        raise Forbidden("This account is disabled.")
    touch_last_used(api_key)


def current_api_key() -> ApiKey:
    """The authenticated key (only after `require_api_key`)."""
    return g.api_key


def current_account() -> User:
    """The account that owns the authenticated key."""
    return g.api_key.user
