"""Optional request headers of the API: `Prefer: wait=N` (RFC 7240), `Idempotency-Key`, `Cache-Control`."""

from __future__ import annotations

import re

from flask import request

from proxyapp.services.idempotency import HEADER as IDEMPOTENCY_HEADER
from proxyapp.services.idempotency import check_key

MAX_WAIT_SECONDS = 60
_WAIT = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,6})\"?\s*$", re.IGNORECASE)


def requested_wait() -> int | None:
    """Seconds the client asked to wait (capped at 60), or None; invalid preferences are ignored."""
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            match = _WAIT.match(preference.partition(";")[0])
            if match:
                return min(int(match.group(1)), MAX_WAIT_SECONDS)
    return None


def idempotency_key() -> str | None:
    """The Idempotency-Key header, checked; None when absent."""
    value = request.headers.get(IDEMPOTENCY_HEADER)
    return None if value is None else check_key(value)


def is_cache_bypassed() -> bool:
    """True when the client sent `Cache-Control: no-cache` (skip the result cache lookup)."""
    return bool(request.cache_control.no_cache)
