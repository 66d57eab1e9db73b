"""Redis round trips and SQL statements of the hot paths, counted (not timed).

A round trip is one `send_packed_command` of redis-py: a command, or a whole pipeline.
Counts are deterministic, so they are asserted; speed is measured in `make bench`.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from redis.connection import Connection
from sqlalchemy import event

import workers.predictions
from proxyapp.extensions import db
from tests.conftest import CANONICAL_BODY, bearer
from tests.fake_upstream import FakeUpstream
from workers import context
from workers.__main__ import _queue, _worker_options, worker_connection
from workers.slots import SlotWorker


class Counter:
    """Redis round trips (first word of each) and SQL statements seen while counting."""

    def __init__(self) -> None:
        self.redis: list[str] = []
        self.sql: list[str] = []


@contextmanager
def counting(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    counter = Counter()
    send = Connection.send_packed_command

    def counted(self, command, check_health=True):
        first = command[0] if isinstance(command, (list, tuple)) else command
        counter.redis.append(bytes(first).split(b"\r\n")[2].decode())
        return send(self, command, check_health)

    def on_statement(_conn, _cursor, statement, *_args) -> None:
        counter.sql.append(statement.split()[0].upper())

    with app.app_context():
        engine = db.engine
    with monkeypatch.context() as patch:
        patch.setattr(Connection, "send_packed_command", counted)
        event.listen(engine, "before_cursor_execute", on_statement)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", on_statement)


def body(n: int) -> dict:
    """The canonical request, made unique."""
    return {**CANONICAL_BODY, "num_predictions": n}


def test_a_submission_takes_at_most_6_redis_round_trips_and_no_health_check_pings(app, client, accounts, monkeypatch):
    _, key = accounts.create()
    assert client.post("/v1/predictions", json=body(1), headers=bearer(key)).status_code == 202  # scripts loaded
    with counting(app, monkeypatch) as seen:
        response = client.post("/v1/predictions", json=body(2), headers=bearer(key))
    assert response.status_code == 202
    assert response.headers["X-RateLimit-Remaining"] == str(int(response.headers["X-RateLimit-Limit"]) - 2)
    assert len(seen.redis) <= 6, seen.redis
    assert "PING" not in seen.redis
    assert seen.sql.count("INSERT") == 1 and len(seen.sql) <= 4, seen.sql


def test_a_job_takes_at_most_20_redis_round_trips_including_rqs_own(app, client, accounts, monkeypatch):
    _, key = accounts.create()
    monkeypatch.setattr(workers.predictions, "get_upstream", lambda: FakeUpstream())
    context.set_app(app)
    connection = worker_connection(app)
    pool = types.SimpleNamespace(stopping=threading.Event())
    worker = SlotWorker([_queue(app, connection)], connection=connection, pool=pool, maintains=False,
                        poll_seconds=1, **_worker_options(app))
    with app.app_context():
        worker.bootstrap()
        try:
            for n in (1, 2):  # the first job warms up (scripts, registries); the second is counted
                prediction = client.post("/v1/predictions", json=body(n), headers=bearer(key)).get_json()
                with counting(app, monkeypatch) as seen:
                    worker.execute_job(*worker.dequeue_job_and_maintain_ttl(1))
                    worker.heartbeat()
        finally:
            worker.teardown()
    assert client.get(f"/v1/predictions/{prediction['id']}", headers=bearer(key)).get_json()["status"] == "succeeded"
    assert len(seen.redis) <= 20, " ".join(seen.redis)
    # running (which hands back the request and counts the first call) and succeeded: the row is never read alone
    assert seen.sql == ["UPDATE", "UPDATE"], seen.sql
