"""Request body checks, as lenient as a real upstream (the proxy is the strict one)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import request

from simulator.responses import ApiError

MAX_HISTORY = 10_000
ITEM_FIELDS = ("code", "system", "display")
# name -> (default, lowest, highest); upstream's own bounds, wider than the proxy's.
INT_PARAMS = {"num_predictions": (1, 1, 20), "generation_length": (10, 1, 256)}
FLOAT_PARAMS = {"inference_threshold": (0.95, 0.0, 1.0), "inference_temperature": (0.95, 0.0, 5.0)}


@dataclass(frozen=True)
class PredictRequest:
    """A checked /predict body."""

    history: list[dict[str, Any]]
    num_predictions: int
    generation_length: int
    inference_threshold: float
    inference_temperature: float


def canonical_digest(payload: Any) -> str:
    """Return the sha256 hex digest of a JSON value in canonical form (sorted, compact)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def body_digest(raw: bytes) -> str:
    """Return the canonical digest of a JSON body, or the digest of the raw bytes if not JSON."""
    try:
        return canonical_digest(json.loads(raw))
    except (ValueError, RecursionError):
        return hashlib.sha256(raw).hexdigest()


def json_object() -> dict[str, Any]:
    """Return the current request's JSON object body, or raise ApiError 415/400."""
    if not request.is_json:
        raise ApiError(415, f'Unsupported media type "{request.mimetype}" in request.')
    try:
        payload = json.loads(request.get_data())
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"JSON parse error - {exc}") from None
    if not isinstance(payload, dict):
        raise ApiError(400, f"Invalid data. Expected a JSON object, but got {type(payload).__name__}.")
    return payload


def parse_history(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the body's history, or raise ApiError 400 naming what is wrong."""
    history = payload.get("history")
    if history is None:
        raise ApiError(400, "history: This field is required.")
    if not isinstance(history, list) or not history:
        raise ApiError(400, "history: Expected a non-empty list of items.")
    if len(history) > MAX_HISTORY:
        raise ApiError(400, f"history: Ensure this field has no more than {MAX_HISTORY} items.")
    for index, item in enumerate(history):
        _check_item(index, item)
    return history


def parse_predict(payload: dict[str, Any]) -> PredictRequest:
    """Return a checked /predict request with defaults filled in, or raise ApiError 400."""
    history = parse_history(payload)
    ints = {name: _number(payload, name, spec, (int,)) for name, spec in INT_PARAMS.items()}
    floats = {name: float(_number(payload, name, spec, (int, float))) for name, spec in FLOAT_PARAMS.items()}
    return PredictRequest(history=history, **ints, **floats)


def _check_item(index: int, item: Any) -> None:
    """Raise ApiError 400 unless a history item is an object with string code, system, display."""
    if not isinstance(item, dict):
        raise ApiError(400, f"history[{index}]: Expected an object with code, system and display.")
    for name in ITEM_FIELDS:
        if name not in item:
            raise ApiError(400, f"history[{index}].{name}: This field is required.")
        if not isinstance(item[name], str):
            raise ApiError(400, f"history[{index}].{name}: Not a valid string.")


def _number(payload: dict[str, Any], name: str, spec: tuple, kinds: tuple[type, ...]) -> Any:
    """Return an optional numeric field (or its default), or raise ApiError 400."""
    default, lowest, highest = spec
    value = payload.get(name, default)
    # bool is an int subclass, but true/false is never a valid count or temperature.
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "integer" if kinds == (int,) else "number"
        raise ApiError(400, f"{name}: A valid {kind} is required.")
    if not lowest <= value <= highest:
        raise ApiError(400, f"{name}: Ensure this value is between {lowest} and {highest}.")
    return value
