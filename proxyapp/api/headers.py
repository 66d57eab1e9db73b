"""Optional request headers of the API: `Prefer: wait=N` (RFC 7240), `Idempotency-Key`, `Cache-Control`."""

from __future__ import annotations

import re

from flask import current_app, request

from proxyapp.models import PredictionKind
from proxyapp.services.predictions.idempotency import HEADER as IDEMPOTENCY_HEADER
from proxyapp.services.predictions.idempotency import check_key

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


def accepted_cache_age(kind: PredictionKind) -> int | None:
    """How old a cached result the client accepts, in seconds; None: none at all.

    `Cache-Control: max-age=N` accepts up to N seconds, `no-cache` nothing. Without either,
    predictions (sampled) take no cached result and embeddings (deterministic) any.
    """
    control = request.cache_control
    if control.no_cache:
        return None
    if control.max_age is not None:
        return control.max_age
    return current_app.config["CACHE_TTL"] if kind is PredictionKind.EMBEDDING else None
