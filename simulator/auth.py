"""The upstream's key check, shared by the simulated API and its control API."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request

from simulator.responses import unauthorized
from simulator.settings import Settings
from simulator.state import current_state

SCHEMES = ("token", "bearer")


def is_authorized(header: str | None, settings: Settings) -> bool:
    """Return whether an Authorization header carries the key in an accepted scheme."""
    scheme, _, key = (header or "").strip().partition(" ")
    allowed = SCHEMES if settings.auth_scheme == "any" else (settings.auth_scheme.lower(),)
    is_key = hmac.compare_digest(key.strip().encode(), settings.api_key.encode())
    return scheme.lower() in allowed and is_key


def check_key() -> None:
    """Raise the DRF 401 error unless the current request carries the key."""
    if not is_authorized(request.headers.get("Authorization"), current_state().settings):
        raise unauthorized()


def require_key(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a view so that it answers 401 unless the request carries the key."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_key()
        return view(*args, **kwargs)

    return guarded
