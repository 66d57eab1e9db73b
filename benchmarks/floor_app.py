"""The cheapest submission the design's parts allow, for `make bench` part f (not the proxy).

A Flask app on the proxy's own stack (waitress, Flask-SQLAlchemy on SQLite in WAL mode, RQ with
the JSON serializer, Flask-Limiter on Redis) whose submission does only what no submission can
skip: find the API key by its hash, insert the row, commit, enqueue the job and answer 202. No
validation, encryption, idempotency, result cache, usage counters or rate-limit headers. Its
throughput against `/healthz` on the same server bounds what any submission built from these
parts can reach on this machine. Served by `python -m waitress … benchmarks.floor_app:app`,
configured by FLOOR_DATABASE (a SQLite path) and FLOOR_REDIS_URL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid

from flask import Flask, jsonify, request
from flask_limiter import Limiter
from flask_sqlalchemy import SQLAlchemy
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import ForeignKey, String, Text, event, select
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()


class Key(db.Model):
    """An API key, stored by its SHA-256 hash."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int]


class Submission(db.Model):
    """A submitted request, as one row."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int]
    key_id: Mapped[int] = mapped_column(ForeignKey("key.id"))
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def _key_id() -> str:
    return request.headers.get("Authorization", "")


def _pragmas(connection, _record) -> None:
    """The proxy's SQLite settings (proxyapp/database.py): WAL, synchronous=NORMAL, a busy timeout."""
    for pragma in ("journal_mode=WAL", "busy_timeout=10000", "synchronous=NORMAL"):
        connection.execute(f"PRAGMA {pragma}")


def create_app() -> Flask:
    """The floor app on FLOOR_DATABASE and FLOOR_REDIS_URL."""
    app = Flask(__name__)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # its busy-server warnings are expected here
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{os.environ['FLOOR_DATABASE']}"
    db.init_app(app)
    redis = Redis.from_url(os.environ["FLOOR_REDIS_URL"])
    queue = Queue("floor", connection=redis, serializer=JSONSerializer)
    limiter = Limiter(_key_id, app=app, storage_uri=os.environ["FLOOR_REDIS_URL"], key_prefix="floor")
    with app.app_context():
        event.listen(db.engine, "connect", _pragmas)
        db.create_all()

    @app.get("/healthz")
    @limiter.exempt
    def healthz():
        return jsonify(status="ok")

    def submit():
        key = db.session.scalar(select(Key).where(Key.key_hash == hash_key(_key_id().removeprefix("Bearer "))))
        if key is None:
            return jsonify(error="unauthorized"), 401
        row = Submission(id=uuid.uuid4().hex, user_id=key.user_id, key_id=key.id, status="queued",
                         body=request.get_data(as_text=True))
        db.session.add(row)
        db.session.commit()
        queue.enqueue("benchmarks.floor_app.run", row.id, job_id=row.id)
        return jsonify(id=row.id, status="queued"), 202

    app.post("/submit")(limiter.exempt(submit))
    app.post("/submit-limited", endpoint="submit_limited")(limiter.limit("10000000/minute")(submit))
    return app


def add_key(key: str) -> None:
    """Store a key for account 1 in the app's database (the benchmark's setup, before the server starts)."""
    with app.app_context():
        db.session.add(Key(key_hash=hash_key(key), user_id=1))
        db.session.commit()


def run(submission_id: str) -> None:
    """The job (never run by the benchmark: no worker listens on the floor queue)."""


if "FLOOR_DATABASE" in os.environ and "FLOOR_REDIS_URL" in os.environ:
    app = create_app()
