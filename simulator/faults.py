"""Injected upstream failures: what each one looks like on the wire."""

from __future__ import annotations

import time
from enum import Enum

from flask import Response

from simulator.responses import detail_response, unauthorized
from simulator.settings import Settings

# Cut mid-item, the way a dropped connection or a buggy gateway truncates a body.
TRUNCATED_BODY = '{"history": [{"code": "64", "display": "64", "system": "age"}], "predictions": [[{"code": "00-0'


class Outcome(str, Enum):
    """How the simulator answers one upstream call; values are the control-script tokens."""

    OK = "ok"
    BAD_REQUEST = "400"
    UNAUTHORIZED = "401"
    FORBIDDEN = "403"
    THROTTLED = "429"
    SERVER_ERROR = "500"
    BAD_GATEWAY = "502"
    UNAVAILABLE = "503"
    GATEWAY_TIMEOUT = "504"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"


SERVER_ERRORS = (Outcome.SERVER_ERROR, Outcome.BAD_GATEWAY, Outcome.UNAVAILABLE)


def fault_response(outcome: Outcome, settings: Settings) -> Response:
    """Return the response for an injected fault (a TIMEOUT first hangs for hang_seconds)."""
    retry = {"Retry-After": str(settings.retry_after)}
    if outcome is Outcome.TIMEOUT:
        time.sleep(settings.hang_seconds)
        return _gateway_page(504, "Gateway Time-out")
    if outcome is Outcome.BAD_GATEWAY:
        return _gateway_page(502, "Bad Gateway")
    if outcome is Outcome.GATEWAY_TIMEOUT:
        return _gateway_page(504, "Gateway Time-out")
    if outcome is Outcome.MALFORMED:
        return Response(TRUNCATED_BODY, status=200, mimetype="application/json")
    if outcome is Outcome.UNAUTHORIZED:
        return unauthorized().to_response()
    return _detail_fault(outcome, retry)


def _detail_fault(outcome: Outcome, retry: dict[str, str]) -> Response:
    """Return a fault the application itself would answer, in DRF's `{"detail": ...}` shape."""
    answers = {
        Outcome.BAD_REQUEST: (400, "Invalid request (simulated rejection).", {}),
        Outcome.FORBIDDEN: (403, "You do not have permission to perform this action.", {}),
        Outcome.THROTTLED: (429, "Request was throttled.", retry),
        Outcome.SERVER_ERROR: (500, "A server error occurred.", {}),
        Outcome.UNAVAILABLE: (503, "Service temporarily unavailable, try again later.", retry),
    }
    status, detail, headers = answers[outcome]
    return detail_response(status, detail, headers)


def _gateway_page(status: int, reason: str) -> Response:
    """Return the HTML page a load balancer in front of the upstream would send."""
    html = f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
    return Response(html, status=status, mimetype="text/html")
