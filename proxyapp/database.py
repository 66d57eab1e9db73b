"""Database sessions that never hold a write lock longer than a write needs.

On SQLite a transaction's first statement decides its lock: a transaction that starts with
a read begins DEFERRED (a WAL snapshot; it never blocks writers and is never blocked), one
that starts with a write begins IMMEDIATE (takes the write lock at once and waits its turn
under `busy_timeout`). A transaction that reads first and writes later is the one shape
that fails under concurrency (SQLITE_BUSY at once when another connection wrote in between),
so such code calls `begin_write()` before its first write: what follows runs IMMEDIATE.
An ORM flush does that by itself; code that checks before it writes (a count, an existence
check) calls it before the check, so check and write share the write lock. Writing in a transaction that began with a read warns
(`ReadThenWriteWarning`, an error in the test suite). PostgreSQL needs none of this, and
`begin_write()` costs nothing there.

Within one process, writers also queue on a lock before BEGIN IMMEDIATE, held until their
connection goes back to the pool: SQLite's busy handler sleeps in growing steps (up to
100 ms) however soon the lock frees, so 32 job slots contending for it spent most of their
time asleep. The lock hands the turn over at once; only processes contend inside SQLite.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import warnings

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from proxyapp.extensions import db

log = logging.getLogger(__name__)

_PENDING = "proxyapp_begin_pending"  # a transaction began; its BEGIN is sent with its first statement
_WRITE = "proxyapp_write"  # the transaction will write: begin it IMMEDIATE
_MODE = "proxyapp_mode"  # how the open transaction began
_HOLDS_GATE = "proxyapp_holds_write_gate"  # this connection holds its process's write gate
WRITE_GATE_TIMEOUT_SECONDS = 10.0  # as PRAGMA busy_timeout: then go ahead and let SQLite decide
_gates: dict[int, WriteGate] = {}  # one per engine (id) in this process
_DML = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_WRITE_VERBS = (*_DML, "CREATE", "DROP", "ALTER")  # schema changes (migrations, create_all) run alone


class ReadThenWriteWarning(RuntimeWarning):
    """A SQLite transaction wrote after reading without `begin_write()`; it may fail with SQLITE_BUSY."""


def begin_write(session: Session | None = None) -> None:
    """Make the session's transaction a write transaction before its first write.

    Before the transaction's first statement it simply begins IMMEDIATE. After reads, the
    read-only transaction ends and an IMMEDIATE one continues on the same connection: what
    was read stays loaded, what follows runs under the write lock. Called after a write
    (the transaction already holds the lock) it does nothing.
    """
    connection = (session or db.session).connection()
    if connection.dialect.name != "sqlite":
        return
    info = connection.info
    if info.get(_PENDING):
        info[_WRITE] = True
    elif info.get(_MODE) == "DEFERRED":
        dbapi_connection = connection.connection.dbapi_connection
        dbapi_connection.execute("COMMIT")  # nothing was written: this only ends the read snapshot
        _enter_gate(connection.engine, info)
        dbapi_connection.execute("BEGIN IMMEDIATE")
        info[_MODE] = "IMMEDIATE"


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, *_args) -> None:
    """An ORM flush writes: make sure the transaction holds the write lock first."""
    begin_write(session)


def end_reads() -> None:
    """End the session's read-only transaction, so the next read sees what others committed since.

    A SQLite read transaction reads from the snapshot of its first statement; code that
    learned of a row from elsewhere (Redis) must look again outside that snapshot.
    """
    session = db.session
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_reads() with unsaved changes; commit them instead")
    session.commit()


class WriteGate:
    """The turn to write to one SQLite database: a lock for this process's threads, then one for processes.

    The second is an advisory lock on a file beside the database (`<file>-write-turn`),
    polled in steps of at most a millisecond where SQLite's busy handler sleeps up to 100 ms:
    web and worker processes hand the write lock to each other as soon as it is free. The
    file is opened once per process (a forked child opens its own: a lock held through an
    inherited descriptor would be the parent's).
    """

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        self._path = f"{database}-write-turn" if database and database != ":memory:" else None
        self._file: tuple[int, int] | None = None  # (pid, descriptor)

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the turn; False if it did not come."""
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            return False
        descriptor = self._descriptor()
        pause = 0.0001
        while descriptor is not None:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._threads.release()
                    return False
                time.sleep(pause)
                pause = min(2 * pause, 0.001)
        return True

    def release(self) -> None:
        """Give the turn to the next writer, in this process or another."""
        if self._file is not None and self._file[0] == os.getpid():
            fcntl.flock(self._file[1], fcntl.LOCK_UN)
        self._threads.release()

    def _descriptor(self) -> int | None:
        if self._path is None:
            return None
        if self._file is None or self._file[0] != os.getpid():
            self._file = (os.getpid(), os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._file[1]


def _enter_gate(engine: Engine, info: dict) -> None:
    """Take this process's turn to write (once per connection until it is checked in)."""
    if info.get(_HOLDS_GATE):
        return
    gate = _gates.get(id(engine))
    if gate is None:
        gate = _gates.setdefault(id(engine), WriteGate(engine.url.database))
    if gate.acquire(timeout=WRITE_GATE_TIMEOUT_SECONDS):
        info[_HOLDS_GATE] = gate
    else:
        log.warning("waited %.0f s for the SQLite write turn; going ahead", WRITE_GATE_TIMEOUT_SECONDS)


def _leave_gate(info: dict) -> None:
    gate = info.pop(_HOLDS_GATE, None)
    if gate is not None:
        gate.release()


def init_sqlite(app: Flask) -> None:
    """SQLite settings for web threads and workers writing at once, and the lazy BEGIN above.

    WAL lets readers proceed during a write, and the busy timeout makes writers queue.
    """
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine: Engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN: ours comes with the first statement
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.info[_PENDING] = True
        connection.info.pop(_WRITE, None)
        connection.info.pop(_MODE, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection: Connection, cursor, statement: str, *_args) -> None:
        info = connection.info
        verb = statement.lstrip()[:7].upper()
        if info.pop(_PENDING, False):
            mode = "IMMEDIATE" if verb.startswith(_WRITE_VERBS) or info.pop(_WRITE, False) else "DEFERRED"
            if mode == "IMMEDIATE":
                _enter_gate(engine, info)
            cursor.execute(f"BEGIN {mode}")
            info[_MODE] = mode
        elif verb.startswith(_DML) and info.get(_MODE) == "DEFERRED":
            info[_MODE] = "UPGRADED"  # warn once per transaction
            warnings.warn("a SQLite transaction wrote after reading; call begin_write() first",
                          ReadThenWriteWarning, stacklevel=2)

    # After commit or rollback the session returns its connection: only then may another write begin.
    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection, record) -> None:
        _leave_gate(record.info)

    @event.listens_for(engine.pool, "invalidate")
    def _on_invalidate(_dbapi_connection, record, _error) -> None:
        _leave_gate(record.info)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Connection) -> None:
        for name in (_PENDING, _WRITE, _MODE):
            connection.info.pop(name, None)
