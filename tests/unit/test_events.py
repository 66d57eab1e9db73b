"""`GET /v1/predictions/{id}/events`: Server-Sent Events, bounded like `Prefer: wait`."""

from __future__ import annotations

import json
import time

import pytest

from proxyapp.api import events
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.predictions.waiting import WaitSlots
from tests.conftest import CANONICAL_BODY, bearer

OUTPUT = {"predictions": [[{"code": "I10", "system": "ICD10CM", "display": "Essential (primary) hypertension"}]]}


def parse(stream: str) -> list[tuple[str, object]]:
    """The (event, data) pairs of a stream; comments become ('comment', text), `retry:` ('retry', ms)."""
    parsed = []
    for block in filter(None, stream.split("\n\n")):
        fields = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in block.split("\n"))
        if block.startswith(":"):
            parsed.append(("comment", block[1:].strip()))
        elif "retry" in fields:
            parsed.append(("retry", int(fields["retry"])))
        else:
            parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


@pytest.fixture
def submitted(client, accounts):
    """A queued prediction of a new account: (key, id)."""
    _, key = accounts.create()
    body = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()
    return key, body["id"]


def test_a_finished_prediction_streams_its_status_then_done(app, client, submitted):
    key, prediction_id = submitted
    with app.app_context():
        predictions.mark_running(prediction_id)
        predictions.mark_succeeded(prediction_id, OUTPUT, 5)
    response = client.get(f"/v1/predictions/{prediction_id}/events", headers=bearer(key))
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Accel-Buffering"] == "no"
    stream = parse(response.get_data(as_text=True))
    assert [name for name, _ in stream] == ["status", "done"]
    assert response.get_data(as_text=True).startswith("id: succeeded\nevent: status\ndata: {")
    status = stream[0][1]
    assert status["status"] == "succeeded" and status["output"] == OUTPUT
    assert "input" not in status  # the stream never echoes the patient history
    assert status["urls"]["stream"].endswith(f"/v1/predictions/{prediction_id}/events")


def test_every_change_is_an_event_until_terminal(app, client, submitted):
    key, prediction_id = submitted
    response = client.get(f"/v1/predictions/{prediction_id}/events", headers=bearer(key), buffered=False)
    chunks = iter(response.response)

    def next_event() -> tuple[str, object]:
        while (event := parse(next(chunks).decode()))[0][0] == "comment":
            pass
        return event[0]

    started = time.monotonic()
    assert next_event()[1]["status"] == "queued"
    with app.app_context():
        predictions.mark_running(prediction_id)
    assert next_event()[1]["status"] == "running"
    with app.app_context():
        predictions.mark_succeeded(prediction_id, OUTPUT, 5)
    assert next_event()[1]["status"] == "succeeded"
    assert next_event() == ("done", {})
    assert next(chunks, None) is None
    response.close()
    assert time.monotonic() - started < events.STREAM_SECONDS  # ended at the terminal state, not at the bound


def test_a_failed_prediction_ends_the_stream_with_its_error(app, client, submitted):
    key, prediction_id = submitted
    with app.app_context():
        predictions.mark_failed(prediction_id, "upstream_error", "The upstream failed.")
    stream = parse(client.get(f"/v1/predictions/{prediction_id}/events", headers=bearer(key)).get_data(as_text=True))
    assert stream[0][1]["status"] == "failed" and stream[0][1]["error"]["code"] == "upstream_error"
    assert stream[-1] == ("done", {})


def test_a_stream_without_a_free_wait_slot_sends_the_status_and_asks_to_reconnect(app, client, submitted):
    key, prediction_id = submitted
    app.extensions["proxyapp.wait_slots"] = WaitSlots(0, 0)
    started = time.monotonic()
    stream = parse(client.get(f"/v1/predictions/{prediction_id}/events", headers=bearer(key)).get_data(as_text=True))
    assert time.monotonic() - started < 2
    assert stream == [("status", stream[0][1]), ("retry", events.RECONNECT_MILLISECONDS)]
    assert stream[0][1]["status"] == "queued"


def test_a_stream_ends_when_its_time_is_up_and_keeps_quiet_connections_alive(app, client, submitted, monkeypatch):
    key, prediction_id = submitted
    monkeypatch.setattr(events, "STREAM_SECONDS", 1.5)
    monkeypatch.setattr(events, "KEEPALIVE_SECONDS", 0.5)
    stream = parse(client.get(f"/v1/predictions/{prediction_id}/events", headers=bearer(key)).get_data(as_text=True))
    names = [name for name, _ in stream]
    assert names[0] == "status" and names[-1] == "retry" and "done" not in names
    assert ("comment", "keep-alive") in stream


def test_a_stream_holds_a_wait_slot_only_while_it_runs(app, client, submitted, monkeypatch):
    key, prediction_id = submitted
    slots = app.extensions["proxyapp.wait_slots"] = WaitSlots(1, 1)
    monkeypatch.setattr(events, "STREAM_SECONDS", 0.5)
    response = client.get(f"/v1/predictions/{prediction_id}/events", headers=bearer(key))
    with slots.claim(0) as free_while_streaming:
        assert not free_while_streaming  # the stream holds the process's only slot
    response.get_data()
    with slots.claim(0) as free_after:
        assert free_after


def test_someone_elses_prediction_is_404_json_and_no_key_is_401(client, accounts, submitted):
    _, prediction_id = submitted
    _, other = accounts.create()
    response = client.get(f"/v1/predictions/{prediction_id}/events", headers=bearer(other))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/v1/predictions/{prediction_id}/events").status_code == 401
