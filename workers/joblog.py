"""The fields of the job a worker is running, on every log line about it (RQ's own lines too).

A worker binds them when RQ hands it a job (`JobLoggingQueue.dequeue_any`, so RQ's
"dequeued" line already carries them) and drops them when the job is done
(`JobLoggingWorker.execute_job`); a forked work horse inherits them.
"""

from __future__ import annotations

from typing import Any

from rq import Queue
from rq.job import Job

from proxyapp.logs import bind_log_fields, clear_log_fields
from proxyapp.queue import PREDICTION_JOB


def job_log_fields(job: Job) -> dict[str, Any]:
    """The job's id, the request that submitted it and, for a prediction job, the prediction's id."""
    fields = {"job_id": job.id, "request_id": (job.meta or {}).get("request_id")}
    if job.func_name == PREDICTION_JOB and job.args:
        fields["prediction_id"] = job.args[0]
    return fields


class JobLoggingQueue(Queue):
    """A queue class for workers: binds the log fields of each job it hands out."""

    @classmethod
    def dequeue_any(cls, *args: Any, **kwargs: Any) -> tuple[Job, Queue] | None:
        """RQ's dequeue; the job's fields replace whatever the thread had bound."""
        result = super().dequeue_any(*args, **kwargs)
        if result is not None:
            clear_log_fields()
            bind_log_fields(**job_log_fields(result[0]))
        return result


class JobLoggingWorker:
    """A mixin for RQ workers: the job's log fields end with its execution."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        """RQ's execution, then no job fields on the worker's next lines."""
        try:
            super().execute_job(job, queue)
        finally:
            clear_log_fields()
