"""Liveness and the control API tests use to script a running simulator."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from simulator.auth import require_key
from simulator.faults import Outcome
from simulator.responses import ApiError
from simulator.state import current_state
from simulator.validation import json_object

bp = Blueprint("control", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Report that the process is serving (no key needed)."""
    return {"status": "ok"}


@bp.get("/_control")
@require_key
def show_settings() -> dict[str, Any]:
    """Return the runtime knobs in force."""
    return current_state().settings.public()


@bp.put("/_control")
@require_key
def update_settings() -> dict[str, Any]:
    """Change some runtime knobs; the others keep their values."""
    try:
        return current_state().update(json_object()).public()
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


@bp.post("/_control/script")
@require_key
def add_script() -> dict[str, int]:
    """Queue outcomes that the next upstream calls get, one per call, before random faults."""
    responses = json_object().get("responses")
    if not isinstance(responses, list):
        raise ApiError(400, "responses: Expected a list of outcomes.")
    return {"queued": current_state().enqueue(_parse_outcomes(responses))}


@bp.get("/_control/stats")
@require_key
def show_stats() -> dict[str, Any]:
    """Return call counts per endpoint, per status and per body digest."""
    return current_state().stats()


@bp.post("/_control/reset")
@require_key
def reset() -> dict[str, str]:
    """Restore the starting settings and clear the script and statistics."""
    current_state().reset()
    return {"status": "reset"}


def _parse_outcomes(tokens: list[Any]) -> list[Outcome]:
    """Return the outcomes named by script tokens, or raise ApiError listing valid ones."""
    valid = {outcome.value for outcome in Outcome}
    unknown = [token for token in tokens if not isinstance(token, str) or token not in valid]
    if unknown:
        raise ApiError(400, f"responses: unknown outcome(s) {unknown!r}; use {sorted(valid)}")
    return [Outcome(token) for token in tokens]
