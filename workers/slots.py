"""Many job slots in one worker process: one RQ `SimpleWorker` per thread.

Prediction jobs spend their time waiting on the upstream, not the CPU, so one process can
run many at once. Each slot is a registered RQ worker with its own heartbeat and its own
row in `rq info` and rq-dashboard; RQ still does all the queue bookkeeping. Only the main
thread may handle signals and arm SIGALRM, so slots time jobs out with RQ's
`TimerDeathPenalty` and the pool's main thread turns SIGTERM/SIGINT into a warm shutdown:
idle slots stop within `poll_seconds`, busy ones after their job; a second signal stops at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty
from rq.utils import now

from workers.joblog import JobLoggingWorker

log = logging.getLogger("workers")
# A heartbeat within this many seconds of the last one adds nothing (the TTL is minutes).
HEARTBEAT_COALESCE_SECONDS = 1.0


class SlotWorker(JobLoggingWorker, SimpleWorker):
    """An RQ worker that runs in a thread of a `SlotPool` and stops when the pool does."""

    death_penalty_class = TimerDeathPenalty

    def __init__(self, *args, pool: SlotPool, maintains: bool, poll_seconds: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pool = pool
        self._maintains = maintains
        self._poll_seconds = poll_seconds

    def _install_signal_handlers(self) -> None:
        """Signals belong to the pool's main thread."""

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        """RQ's heartbeat in one round trip; skipped when one was just sent (a job's end, then the next wait)."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        if timeout is None and self.last_heartbeat is not None and \
                (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_COALESCE_SECONDS:
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()

    def set_state(self, state: str, pipeline=None) -> None:
        """Write the state only when it changes (RQ sets `idle` after every job and again before each wait)."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def procline(self, message: str) -> None:
        """Slots share one process title; the pool sets it."""

    @property
    def should_run_maintenance_tasks(self) -> bool:
        """One slot per process cleans RQ's registries; the others would repeat its work."""
        return self._maintains and super().should_run_maintenance_tasks

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        """Wait for a job in short rounds, so a stopping pool ends idle slots promptly."""
        while not self._pool.stopping.is_set():
            result = super().dequeue_job_and_maintain_ttl(self._poll_seconds, max_idle_time=self._poll_seconds)
            if result is not None:
                return result
            if timeout is None:  # burst mode: the queue was empty
                return None
        return None

    def stop_after_current_job(self) -> None:
        """Warm shutdown for this slot (the main thread calls it)."""
        self._stop_requested = True


class SlotPool:
    """`concurrency` slot threads on one queue, supervised by the calling (main) thread."""

    def __init__(self, make_queue: Callable[[Redis], Queue], connection: Redis, concurrency: int, *,
                 run_slot: Callable[[SlotWorker, bool], None], worker_options: dict, poll_seconds: int = 2) -> None:
        self.stopping = threading.Event()
        self._make_queue = make_queue
        self._connection = connection
        self._concurrency = concurrency
        self._run_slot = run_slot
        self._worker_options = worker_options
        self._poll_seconds = poll_seconds
        self._threads: dict[int, threading.Thread] = {}
        self._workers: dict[int, SlotWorker] = {}
        self._signals = 0

    def run(self, *, burst: bool, on_redis_lost: Callable[[], None]) -> None:
        """Start every slot and keep them running until stopped (or, in burst mode, until all are done)."""
        self._install_signal_handlers()
        self._set_process_title()
        for slot in range(self._concurrency):
            self._start(slot, burst)
        while True:
            for slot, thread in list(self._threads.items()):
                thread.join(timeout=0.5 / self._concurrency)
                if thread.is_alive() or self.stopping.is_set() or burst:
                    continue
                # A slot ends on its own only when Redis failed under it: start it again once Redis answers.
                on_redis_lost()
                self._start(slot, burst)
            if not any(thread.is_alive() for thread in self._threads.values()):
                return

    def _start(self, slot: int, burst: bool) -> None:
        worker = SlotWorker(
            [self._make_queue(self._connection)], connection=self._connection,
            name=f"{socket.gethostname()}.{os.getpid()}.{slot}.{os.urandom(3).hex()}",
            pool=self, maintains=slot == 0, poll_seconds=self._poll_seconds, **self._worker_options,
        )
        thread = threading.Thread(target=self._run_slot, args=(worker, burst), name=f"slot-{slot}", daemon=True)
        self._workers[slot], self._threads[slot] = worker, thread
        thread.start()

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        """First signal: finish the jobs in flight, take no new ones. Second: stop now."""
        self._signals += 1
        if self._signals > 1:
            log.warning("worker: cold shutdown; jobs in flight are recovered by the reconciler")
            raise SystemExit(1)
        log.info("worker: warm shutdown requested; finishing %d slot(s)", len(self._workers))
        self.stopping.set()
        for worker in self._workers.values():
            worker.stop_after_current_job()

    def _set_process_title(self) -> None:
        try:
            from setproctitle import setproctitle  # optional, as in RQ
        except ImportError:
            return
        setproctitle(f"rq: proxyapp worker, {self._concurrency} slots")


def run_slot_until_done(work: Callable[[], object]) -> None:
    """Run a slot's work loop, logging a Redis failure instead of printing a thread traceback."""
    try:
        work()
    except RedisError as error:
        log.warning("worker slot lost Redis (%s)", type(error).__name__)
