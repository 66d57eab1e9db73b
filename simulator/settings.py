"""Simulator settings: authentication, latency and fault-injection knobs."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields, replace
from typing import Any

DEFAULT_API_KEY = "gh_s_k-simulator-development-key"
AUTH_SCHEMES = ("any", "Token", "Bearer")
ENV_PREFIX = "SIMULATOR_"
RATE_KNOBS = ("rate_429", "rate_5xx", "rate_timeout", "rate_malformed")
# Knobs a running simulator lets tests change through PUT /_control; the key is not one.
RUNTIME_KNOBS = (
    "auth_scheme",
    "latency_ms",
    "jitter_ms",
    "rate_429",
    "rate_5xx",
    "rate_timeout",
    "rate_malformed",
    "retry_after",
    "hang_seconds",
)


def _knob(default: Any, lo: float | None = None, hi: float | None = None) -> Any:
    """Declare a dataclass field with inclusive bounds kept in its metadata."""
    return field(default=default, metadata={"lo": lo, "hi": hi})


@dataclass(frozen=True)
class Settings:
    """Everything that shapes how the simulator answers; read from SIMULATOR_* variables."""

    api_key: str = DEFAULT_API_KEY
    auth_scheme: str = "any"
    latency_ms: int = _knob(0, 0, 600_000)
    jitter_ms: int = _knob(0, 0, 600_000)
    rate_429: float = _knob(0.0, 0.0, 1.0)
    rate_5xx: float = _knob(0.0, 0.0, 1.0)
    rate_timeout: float = _knob(0.0, 0.0, 1.0)
    rate_malformed: float = _knob(0.0, 0.0, 1.0)
    retry_after: int = _knob(1, 0, 86_400)
    hang_seconds: float = _knob(30.0, 0.0, 3_600.0)

    def __post_init__(self) -> None:
        for spec in fields(self):
            # Frozen, so normalising (e.g. "bearer" -> "Bearer") needs object.__setattr__.
            object.__setattr__(self, spec.name, _check(spec, getattr(self, spec.name), spec.name))
        if self.fault_rate > 1.0:
            raise ValueError(f"{' + '.join(RATE_KNOBS)} must not exceed 1")

    @property
    def fault_rate(self) -> float:
        """Return the probability that a call gets a random fault."""
        return sum(getattr(self, name) for name in RATE_KNOBS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from SIMULATOR_* variables; raise ValueError naming a bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = ENV_PREFIX + spec.name.upper()
            if environ.get(name, "").strip():
                values[spec.name] = _parse_env(spec, environ[name].strip(), name)
        try:
            return cls(**values)
        except ValueError:
            env_names = " + ".join(ENV_PREFIX + name.upper() for name in RATE_KNOBS)
            raise ValueError(f"{env_names} must not exceed 1") from None

    def updated(self, changes: Mapping[str, Any]) -> Settings:
        """Return a copy with runtime knobs changed from JSON values; raise ValueError if bad."""
        unknown = sorted(set(changes) - set(RUNTIME_KNOBS))
        if unknown:
            raise ValueError(f"unknown or read-only setting(s): {', '.join(unknown)}")
        specs = {spec.name: spec for spec in fields(self)}
        typed = {name: _from_json(specs[name], value) for name, value in changes.items()}
        return replace(self, **typed)

    def public(self) -> dict[str, Any]:
        """Return the runtime knobs as a JSON-ready dict (never the key)."""
        return {name: getattr(self, name) for name in RUNTIME_KNOBS}


def _parse_env(spec: Field, text: str, name: str) -> Any:
    """Convert one environment string to the field's type, naming the variable on failure."""
    kind = type(spec.default)
    try:
        value = text if kind is str else kind(text)
        return _check(spec, value, name)
    except ValueError as exc:
        raise ValueError(f"{name}={text!r} is invalid: {exc}") from None


def _from_json(spec: Field, value: Any) -> Any:
    """Accept a JSON value for the field: ints for int knobs, numbers for float knobs."""
    kind = type(spec.default)
    allowed: tuple[type, ...] = (int, float) if kind is float else (kind,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise ValueError(f"{spec.name} must be of type {kind.__name__}")  # noqa: TRY004 - answered as a 400
    return kind(value)


def _check(spec: Field, value: Any, name: str) -> Any:
    """Return value if it suits the field, else raise ValueError mentioning name."""
    if spec.name == "auth_scheme":
        return _check_scheme(value, name)
    if isinstance(spec.default, str):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
        return value
    lo, hi = spec.metadata["lo"], spec.metadata["hi"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")  # noqa: TRY004 - answered as a 400
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}")
    return value


def _check_scheme(value: Any, name: str) -> str:
    """Return the canonical spelling of an auth scheme, or raise ValueError."""
    by_lower = {scheme.lower(): scheme for scheme in AUTH_SCHEMES}
    if not isinstance(value, str) or value.lower() not in by_lower:
        raise ValueError(f"{name} must be one of {', '.join(AUTH_SCHEMES)}")
    return by_lower[value.lower()]
