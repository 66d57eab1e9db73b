"""The run of one prediction job, top to bottom: the lease, `running`, the upstream calls, the outcome.

A run takes the prediction's lease (a second delivery of the job steps aside), moves it to
`running` (which hands back the request and counts the first call), calls the upstream with
retries under the shared circuit breaker, counting each further call (and stopping when the
prediction left `running`: canceled, or finished by another run), then stores what came of
it: the output and its result-cache entry, a classified error, or, while the circuit is
open, the prediction held back for later. Every state change is a conditional UPDATE of
the state machine (lifecycle), which also wakes the waiting requests and tells the webhook.
"""

from __future__ import annotations

import logging

from flask import current_app

from proxyapp.logs import bind_log_fields
from proxyapp.models import PredictionKind
from proxyapp.queue import batched_writes
from proxyapp.services.predictions import holding, leases
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.predictions import result_cache as cache
from proxyapp.services.upstream.circuit import CircuitOpenError, circuit_breaker
from proxyapp.services.upstream.client import UpstreamClient, UpstreamError, UpstreamResult
from proxyapp.services.upstream.retrying import Calls, Retries, RetryPolicy

# The job's lines keep the logger name they had in the worker module: operators filter on it.
log = logging.getLogger("workers.predictions")


class RunEnded(Exception):
    """The prediction left `running` (canceled, or finished by another run): stop calling upstream."""


def run_prediction(prediction_id: str, client: UpstreamClient) -> str:
    """The run of one prediction inside an app context; returns what this run did.

    Writes nobody waits on (metrics, the cache entry, the wake-up, the lease release) go to
    Redis together when the run ends: one round trip instead of one each.
    """
    with batched_writes(), leases.hold(prediction_id) as is_ours:
        if not is_ours:
            log.info("another run holds this prediction; not running it twice", extra={"prediction_id": prediction_id})
            return "skipped"
        job = predictions.mark_running(prediction_id)
        if job is None:
            log.info("prediction already finished or gone; nothing to do", extra={"prediction_id": prediction_id})
            return "skipped"
        try:
            result, calls = _call_upstream(prediction_id, job, client)
        except RunEnded:
            return "discarded"
        except CircuitOpenError as error:
            return _hold_back_or_fail(prediction_id, error)
        except UpstreamError as error:
            return _fail(prediction_id, error, error.elapsed_ms)
        return _store(prediction_id, job, result, calls)


def _call_upstream(prediction_id: str, job: predictions.JobRequest,
                   client: UpstreamClient) -> tuple[UpstreamResult, Calls]:
    """Call until an answer; raise the last error, CircuitOpenError, or RunEnded when the prediction left running."""
    call = client.embed if job.kind == PredictionKind.EMBEDDING else client.predict
    retries = Retries(RetryPolicy.from_config(current_app.config), circuit_breaker(job.user_id))
    while True:
        retries.check_circuit()
        attempt = retries.calls.count + 1
        # The first call was counted by mark_running, which also found the prediction running.
        if attempt > 1 and not predictions.record_attempt(prediction_id):
            raise RunEnded()
        bind_log_fields(attempt=attempt)  # this run's upstream call number, on the lines that follow
        try:
            result = call(job.body, within=retries.start_call())
        except UpstreamError as error:
            log.info("upstream call failed", extra={"error_code": error.code.value, "transient": error.is_transient})
            if not retries.back_off(error):
                raise
        else:
            return result, retries.succeeded(result)


def _hold_back_or_fail(prediction_id: str, error: CircuitOpenError) -> str:
    """Hold the prediction back until the circuit may close, or fail it if its hold window is over."""
    never_called = error.elapsed_ms is None  # mark_running counted a call this run did not make
    if holding.hold_back(prediction_id, uncount_attempt=never_called):
        return "held"
    return _fail(prediction_id, error, error.elapsed_ms, uncount_attempt=never_called)


def _store(prediction_id: str, job: predictions.JobRequest, result: UpstreamResult, calls: Calls) -> str:
    """The upstream's answer: succeeded with its output (and cached), or failed if it is not what we expect."""
    try:
        output = predictions.validated_output(result.body, job.kind)
    except UpstreamError as error:
        return _fail(prediction_id, error, calls.upstream_ms)
    if not predictions.mark_succeeded(prediction_id, output, calls.upstream_ms):
        return "discarded"
    cache.store(job.user_id, job.kind, job.body, output)
    log.info("prediction succeeded", extra={"upstream_ms": calls.upstream_ms})
    return "succeeded"


def _fail(prediction_id: str, error: UpstreamError, upstream_ms: int | None, *, uncount_attempt: bool = False) -> str:
    if predictions.mark_failed(prediction_id, error.code.value, error.message, upstream_ms,
                               uncount_attempt=uncount_attempt):
        # The code only: an upstream's message may quote the request, which is patient data.
        log.warning("prediction failed", extra={"error_code": error.code.value, "upstream_ms": upstream_ms})
    return "failed"
