"""A small multi-process HTTP load generator over loopback (keep-alive connections).

Closed loop (`saturate`): each of N connections sends its next request as soon as the last
answered, for a fixed time; the throughput is the server's capacity. Open loop (`paced`):
requests start on a fixed schedule at a given rate, and latency is measured from the
scheduled start, so a slow server cannot hide its queueing (no coordinated omission).
Both run in separate processes so the generator does not share the server's GIL.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    """What to send: method, URL, headers and an optional JSON body."""

    method: str
    url: str
    headers: dict[str, str]
    body: dict | None = None


@dataclass(frozen=True)
class Result:
    """Outcome of a run: requests completed, their status counts, elapsed time and latencies (ms)."""

    completed: int
    statuses: dict[int, int]
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """Latency at the given fraction (0.5 = median), in milliseconds."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def _send(connection: http.client.HTTPConnection, request: Request, path: str, payload: bytes | None) -> int:
    connection.request(request.method, path, body=payload, headers=request.headers)
    response = connection.getresponse()
    response.read()
    return response.status


def _loop(request: Request, deadline: float, interval: float | None, offset: float,
          statuses: dict[int, int], latencies: list[float]) -> None:
    """One connection sending requests one after another (closed loop) or on a schedule (paced)."""
    parts = urlsplit(request.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = json.dumps(request.body).encode() if request.body is not None else None
    connection = _connection(request.url)
    scheduled = time.perf_counter() + offset
    while True:
        if interval is not None:
            now = time.perf_counter()
            if scheduled > now:
                time.sleep(scheduled - now)
            start, scheduled = scheduled, scheduled + interval
        else:
            start = time.perf_counter()
        if start >= deadline:
            return
        try:
            status = _send(connection, request, path, payload)
        except (OSError, http.client.HTTPException):
            connection = _connection(request.url)
            status = 0
        latencies.append((time.perf_counter() - start) * 1000)
        statuses[status] = statuses.get(status, 0) + 1


def _worker(requests: list[Request], first: int, connections: int, deadline: float, interval: float | None,
            offset: float, queue: multiprocessing.Queue) -> None:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    threads = [
        threading.Thread(target=_loop, args=(requests[(first + n) % len(requests)], deadline,
                                             interval and interval * connections,
                                             offset + (interval or 0) * n, statuses, latencies))
        for n in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((statuses, latencies))


def run(request: Request | list[Request], *, seconds: float, processes: int = 2, connections: int = 4,
        rate: float | None = None) -> Result:
    """Closed loop when rate is None, else paced at `rate` requests per second in total.

    With a list of requests, connection i of the processes x connections sends the i-th
    (round robin): e.g. one account per connection.
    """
    requests = request if isinstance(request, list) else [request]
    queue: multiprocessing.Queue = multiprocessing.Queue()
    start = time.perf_counter() + 0.2
    deadline = start + seconds
    # Paced: each of the processes x connections loops sends every `interval * connections`
    # seconds within its process, staggered so the total is `rate` evenly spread.
    interval = processes / rate if rate else None
    workers = [
        multiprocessing.Process(target=_worker, args=(requests, n * connections, connections, deadline, interval,
                                                      0.2 + (interval or 0) * n / processes, queue))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    parts = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    for worker_statuses, worker_latencies in parts:
        for status, count in worker_statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        latencies.extend(worker_latencies)
    return Result(completed=len(latencies), statuses=statuses, seconds=seconds, latencies_ms=latencies)
