"""The prediction job: call the upstream (with retries) and store the output or a classified error."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

from flask import current_app
from rq import get_current_job

from proxyapp.logs import bind_log_fields, log_fields
from proxyapp.models import PredictionKind
from proxyapp.queue import batched_writes
from proxyapp.services.predictions import holding, leases
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.predictions import result_cache as cache
from proxyapp.services.upstream.circuit import CircuitOpenError, circuit_breaker
from proxyapp.services.upstream.client import UpstreamClient, UpstreamError, UpstreamResult
from proxyapp.services.upstream.retrying import RetryPolicy, call_with_retries
from workers.context import get_app, get_upstream
from workers.joblog import job_log_fields

log = logging.getLogger(__name__)


class RunEnded(Exception):
    """The prediction left `running` (canceled, or finished by another run): stop calling upstream."""


def run(prediction_id: str) -> str:
    """Run one prediction to a terminal state; unexpected exceptions propagate to RQ."""
    job = get_current_job()
    fields = {**(job_log_fields(job) if job is not None else {}), "prediction_id": prediction_id}
    with log_fields(**fields), get_app().app_context():
        return execute(prediction_id, get_upstream())


def execute(prediction_id: str, client: UpstreamClient) -> str:
    """The job body inside an app context; returns what this run did.

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
        return _call_and_store(prediction_id, job, client)


def _call_and_store(prediction_id: str, job: predictions.JobRequest, client: UpstreamClient) -> str:
    call = client.embed if job.kind == PredictionKind.EMBEDDING else client.predict
    attempts = itertools.count(1)
    try:
        result, calls = call_with_retries(
            _logging_failures(lambda within: call(job.body, within=within)),
            RetryPolicy.from_config(current_app.config),
            circuit_breaker(job.user_id),
            before_call=lambda: _count_attempt(prediction_id, next(attempts)),
        )
    except RunEnded:
        return "discarded"
    except CircuitOpenError as error:
        never_called = error.elapsed_ms is None  # mark_running counted a call this run did not make
        if holding.hold_back(prediction_id, uncount_attempt=never_called):
            return "held"
        return _fail(prediction_id, error, error.elapsed_ms, uncount_attempt=never_called)
    except UpstreamError as error:
        return _fail(prediction_id, error, error.elapsed_ms)
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


def _count_attempt(prediction_id: str, attempt: int) -> None:
    # The first call was counted by mark_running, which also found the prediction running.
    if attempt > 1 and not predictions.record_attempt(prediction_id):
        raise RunEnded()
    bind_log_fields(attempt=attempt)  # this run's upstream call number, on the lines that follow


def _logging_failures(call: Callable[[float], UpstreamResult]) -> Callable[[float], UpstreamResult]:
    """The upstream call, logging each failed attempt's error code before the retry loop sees it."""
    def attempt(within: float) -> UpstreamResult:
        try:
            return call(within)
        except UpstreamError as error:
            log.info("upstream call failed", extra={"error_code": error.code.value, "transient": error.is_transient})
            raise
    return attempt
