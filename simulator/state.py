"""State shared by all request threads: settings, the fault script and call statistics."""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app

from simulator.faults import SERVER_ERRORS, Outcome
from simulator.settings import Settings

EXTENSION_KEY = "simulator"


class SimulatorState:
    """Mutable simulator state; every access goes through one lock (waitress is threaded)."""

    def __init__(self, settings: Settings) -> None:
        self._initial = settings
        self._settings = settings
        self._script: deque[Outcome] = deque()
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._bodies: Counter[str] = Counter()
        self._rng = random.Random()
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        """Return the settings in force now."""
        with self._lock:
            return self._settings

    def update(self, changes: Mapping[str, Any]) -> Settings:
        """Change runtime knobs; raise ValueError (leaving settings as they were) if invalid."""
        with self._lock:
            self._settings = self._settings.updated(changes)
            return self._settings

    def enqueue(self, outcomes: Iterable[Outcome]) -> int:
        """Append outcomes to the script; return how many are now waiting."""
        with self._lock:
            self._script.extend(outcomes)
            return len(self._script)

    def next_outcome(self) -> Outcome:
        """Pop the next scripted outcome, or draw one from the configured fault rates."""
        with self._lock:
            if self._script:
                return self._script.popleft()
            return self._draw(self._settings)

    def delay_seconds(self) -> float:
        """Return this call's latency: latency_ms plus or minus up to jitter_ms."""
        with self._lock:
            jitter = self._rng.uniform(-self._settings.jitter_ms, self._settings.jitter_ms)
            return max(0.0, self._settings.latency_ms + jitter) / 1000

    def record_call(self, endpoint: str, digest: str) -> None:
        """Count a call to an upstream endpoint and the body it carried."""
        with self._lock:
            self._calls[endpoint] += 1
            self._bodies[digest] += 1

    def record_status(self, status: int) -> None:
        """Count the status an upstream call was answered with."""
        with self._lock:
            self._statuses[str(status)] += 1

    def stats(self) -> dict[str, Any]:
        """Return a snapshot of the call statistics."""
        with self._lock:
            return {
                "calls": dict(self._calls),
                "statuses": dict(self._statuses),
                "bodies": dict(self._bodies),
                "script_remaining": len(self._script),
            }

    def reset(self) -> None:
        """Restore the initial settings and clear the script and statistics."""
        with self._lock:
            self._settings = self._initial
            self._script.clear()
            for counter in (self._calls, self._statuses, self._bodies):
                counter.clear()

    def _draw(self, settings: Settings) -> Outcome:
        """Pick a random outcome; each fault's share of [0, 1) is its configured rate."""
        roll = self._rng.random()
        for rate, outcome in (
            (settings.rate_429, Outcome.THROTTLED),
            (settings.rate_5xx, self._rng.choice(SERVER_ERRORS)),
            (settings.rate_timeout, Outcome.TIMEOUT),
            (settings.rate_malformed, Outcome.MALFORMED),
        ):
            if roll < rate:
                return outcome
            roll -= rate
        return Outcome.OK


def current_state() -> SimulatorState:
    """Return the state of the app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]
