"""`GET /v1/predictions/{id}/events`: a prediction's status changes as Server-Sent Events.

A stream holds a web thread, so it is granted like a `Prefer: wait`: it takes one of the
process's wait slots (bounded globally and per account) for at most MAX_WAIT_SECONDS.
A stream that is not granted a slot, or whose time is up, sends the current status and
ends with a `retry:` hint; EventSource clients reconnect on their own and `curl -N`
simply sees the stream end. Every stream starts with the current status, so a
reconnecting client misses nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Response, stream_with_context

from proxyapp.api.auth import current_account
from proxyapp.api.headers import MAX_WAIT_SECONDS
from proxyapp.schemas import PredictionSchema, shared
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.predictions.waiting import wait_slots

RECONNECT_MILLISECONDS = 2000
KEEPALIVE_SECONDS = 15
STREAM_SECONDS = MAX_WAIT_SECONDS  # a granted stream's longest life, as for `Prefer: wait`


def sse(event: str, data: object, event_id: str | None = None) -> str:
    """One Server-Sent Event (data as one line of JSON)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def prediction_events(prediction_id: str) -> Response:
    """Stream `status` events (the prediction without its input) until terminal, then `done`."""
    user_id = predictions.get_owned_prediction(current_account(), prediction_id).user_id  # 404 before any stream
    schema = shared(PredictionSchema, exclude=("input",))

    @stream_with_context
    def events() -> Iterator[str]:
        sent, quiet_since, terminal = None, time.monotonic(), False
        with wait_slots().claim(user_id) as granted:
            for state in predictions.watch(prediction_id, STREAM_SECONDS if granted else 0):
                terminal = state.state.is_terminal
                if state.status != sent:
                    sent, quiet_since = state.status, time.monotonic()
                    yield sse("status", schema.dump(state), event_id=state.status)
                elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"  # proxies keep the connection; a gone client is noticed
        if terminal:
            yield sse("done", {})
        else:
            yield f"retry: {RECONNECT_MILLISECONDS}\n\n"

    return Response(events(), mimetype="text/event-stream",
                    headers={"X-Accel-Buffering": "no"})  # nginx: pass each event on at once
