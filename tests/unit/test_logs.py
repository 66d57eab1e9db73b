"""JSON log lines with bound fields: a request's id, and in a worker the job's prediction, request and attempt."""

from __future__ import annotations

import json
import logging
import threading
import types
from collections.abc import Iterator

import pytest
from flask import Flask

import workers.predictions
from proxyapp.logs import (
    ContextFieldsFilter,
    JsonFormatter,
    bind_log_fields,
    bound_log_fields,
    clear_log_fields,
    current_request_id,
    log_fields,
)
from proxyapp.queue import get_queue
from proxyapp.services.upstream.client import UpstreamError, UpstreamErrorCode
from tests.conftest import CANONICAL_BODY, bearer
from tests.fake_upstream import FakeUpstream
from workers import context
from workers.__main__ import _queue, _worker_options, worker_connection
from workers.slots import SlotWorker


class JsonLines(logging.Handler):
    """Formats records as the processes do (bound fields, then JSON) and keeps the parsed lines."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(ContextFieldsFilter())
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict]]:
    """Every line logged during the test, as the JSON a process would write."""
    caplog.set_level(logging.INFO)
    handler = JsonLines()
    logging.getLogger().addHandler(handler)
    yield handler.lines
    logging.getLogger().removeHandler(handler)
    clear_log_fields()


def test_bound_fields_appear_as_json_fields_and_never_replace_a_passed_one(lines):
    log = logging.getLogger("proxyapp.test")
    with log_fields(prediction_id="p1", request_id="r1", empty=None):
        log.info("inside")
        log.info("explicit", extra={"request_id": "passed"})
    log.info("after")
    inside, explicit, after = lines
    assert inside["prediction_id"] == "p1" and inside["request_id"] == "r1" and "empty" not in inside
    assert inside["message"] == "inside"
    assert explicit["request_id"] == "passed" and explicit["prediction_id"] == "p1"
    assert "prediction_id" not in after and "request_id" not in after


def test_a_block_restores_the_fields_bound_before_it_even_after_binds_inside_it():
    bind_log_fields(job_id="j1")
    with log_fields(prediction_id="p1"):
        bind_log_fields(attempt=2)
        assert bound_log_fields() == {"job_id": "j1", "prediction_id": "p1", "attempt": 2}
    assert bound_log_fields() == {"job_id": "j1"}
    clear_log_fields()
    assert bound_log_fields() == {}


def test_each_thread_has_its_own_fields():
    seen: dict[str, dict] = {}

    def other() -> None:
        seen["before"] = dict(bound_log_fields())
        bind_log_fields(job_id="theirs")
        seen["after"] = dict(bound_log_fields())

    with log_fields(job_id="mine"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert bound_log_fields() == {"job_id": "mine"}
    assert seen == {"before": {}, "after": {"job_id": "theirs"}}


def test_lines_written_during_a_request_carry_its_request_id(app: Flask, client, lines):
    client.get("/healthz", headers={"X-Request-ID": "req-abc.123"})
    request_line = next(line for line in lines if line["logger"] == "proxyapp.request")
    assert request_line["request_id"] == "req-abc.123"
    assert bound_log_fields() == {}  # unbound when the request ended
    with app.test_request_context(headers={"X-Request-ID": "req-xyz"}):
        assert current_request_id() == "req-xyz"
    with log_fields(request_id="from-the-job"):
        assert current_request_id() == "from-the-job"  # outside a request: the submitting request's id
    assert current_request_id() is None


def test_the_submitting_requests_id_travels_in_the_jobs_meta(app: Flask, client, accounts):
    _, key = accounts.create()
    created = client.post("/v1/predictions", json=CANONICAL_BODY, headers={**bearer(key), "X-Request-ID": "sub-1"})
    unsane = client.post("/v1/predictions", json={**CANONICAL_BODY, "num_predictions": 2},
                         headers={**bearer(key), "X-Request-ID": "bad id with spaces"})
    with app.app_context():
        job = get_queue().fetch_job(created.get_json()["id"])
        other = get_queue().fetch_job(unsane.get_json()["id"])
    assert job.meta == {"request_id": "sub-1"}
    assert other.meta["request_id"] == unsane.headers["X-Request-ID"] != "bad id with spaces"


def run_one_job(app: Flask, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dequeue and run one job with a worker slot built as `python -m workers` builds it."""
    monkeypatch.setattr(workers.predictions, "get_upstream", lambda: upstream)
    context.set_app(app)
    connection = worker_connection(app)
    worker = SlotWorker([_queue(app, connection)], connection=connection,
                        pool=types.SimpleNamespace(stopping=threading.Event()), maintains=False, poll_seconds=1,
                        **_worker_options(app))
    with app.app_context():
        worker.bootstrap()
        try:
            worker.execute_job(*worker.dequeue_job_and_maintain_ttl(1))
        finally:
            worker.teardown()


def test_a_workers_lines_about_a_job_name_its_prediction_request_and_attempt(app, client, accounts, lines,
                                                                             monkeypatch):
    _, key = accounts.create()
    created = client.post("/v1/predictions", json=CANONICAL_BODY, headers={**bearer(key), "X-Request-ID": "sub-2"})
    prediction_id = created.get_json()["id"]
    lines.clear()
    failure = UpstreamError(UpstreamErrorCode.SERVER_ERROR, "The upstream failed with HTTP 503.", elapsed_ms=3)
    run_one_job(app, FakeUpstream(failure), monkeypatch)

    about_job = [line for line in lines if line.get("job_id") == prediction_id]
    assert {line["logger"] for line in about_job} >= {"rq.worker", "workers.predictions"}
    assert all(line["prediction_id"] == prediction_id and line["request_id"] == "sub-2" for line in about_job)
    (failed_call,) = [line for line in about_job if line["message"] == "upstream call failed"]
    assert failed_call["attempt"] == 1 and failed_call["error_code"] == "upstream_error"
    (succeeded,) = [line for line in about_job if line["message"] == "prediction succeeded"]
    assert succeeded["attempt"] == 2
    assert any(prediction_id in line["message"] and line["logger"] == "rq.worker" for line in about_job)
    assert bound_log_fields() == {}  # the slot forgot the job once it ended
    assert all(line.get("job_id") in (None, prediction_id) for line in lines)


def test_a_failed_predictions_line_has_its_error_code_and_no_upstream_message(app, client, accounts, lines,
                                                                               monkeypatch):
    _, key = accounts.create()
    prediction_id = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()["id"]
    final = UpstreamError(UpstreamErrorCode.REJECTED, "upstream said: E11 Type 2 diabetes is odd", elapsed_ms=3)
    run_one_job(app, FakeUpstream(final), monkeypatch)
    (failed,) = [line for line in lines if line["message"] == "prediction failed"]
    assert failed["prediction_id"] == prediction_id and failed["error_code"] == final.code.value
    assert failed["attempt"] == 1 and failed["level"] == "warning"
    assert not any("diabetes" in json.dumps(line) for line in lines)
