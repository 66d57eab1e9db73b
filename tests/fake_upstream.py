"""A scripted upstream for running prediction jobs in-process, without the simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from proxyapp.services.predictions.run import run_prediction
from proxyapp.services.upstream.client import UpstreamError, UpstreamResult

OUTPUT = {"history": [], "predictions": [[{"code": "E11", "system": "ICD10CM", "display": "Type 2 diabetes"}]]}
Step = UpstreamError | dict | Callable[[], Any]


class FakeUpstream:
    """Answers predict() calls from a script: an error to raise, a body to return, or a side effect to run."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.calls = 0

    def predict(self, body: dict[str, Any], *, within: float | None = None) -> UpstreamResult:
        self.calls += 1
        step = self.steps.pop(0) if self.steps else OUTPUT
        if callable(step):
            step = step()
        if isinstance(step, UpstreamError):
            raise step
        return UpstreamResult(body=step or OUTPUT, elapsed_ms=7)


def run(app: Flask, prediction_id: str, upstream: FakeUpstream) -> str:
    with app.app_context():
        return run_prediction(prediction_id, upstream)
