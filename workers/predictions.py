"""The prediction job's RQ entry point: the run of one prediction, with the job's fields on its log lines."""

from __future__ import annotations

from rq import get_current_job

from proxyapp.logs import log_fields
from proxyapp.services.predictions.run import run_prediction
from workers.context import get_app, get_upstream
from workers.joblog import job_log_fields


def run(prediction_id: str) -> str:
    """Run one prediction to a terminal state; unexpected exceptions propagate to RQ."""
    job = get_current_job()
    fields = {**(job_log_fields(job) if job is not None else {}), "prediction_id": prediction_id}
    with log_fields(**fields), get_app().app_context():
        return run_prediction(prediction_id, get_upstream())
