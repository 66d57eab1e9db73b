"""`make bench`: the proxy measured against its own baselines on this machine.

Every figure is a ratio (or a latency) against a baseline measured in the same run, and
every measurement is repeated (`--repeat`, interleaved), printed as min / median / max.
Nothing is asserted. Traffic goes only to loopback servers this script starts, and every
loop is bounded. Predictions are sampled, so the proxy never answers them from the result
cache unless asked; the benchmarks also send `Cache-Control: no-cache` to make that explicit.

Stack 1 (no workers) for a, l, h; stack 1' (simulator at 0 ms, 2 worker processes) for s, c:
  a. submission: POST /v1/predictions (202) closed-loop, 8 connections, vs GET /healthz; p99/p50
  s. synchronous: POST with `Prefer: wait`, one account per connection, vs GET /healthz; p99/p50
  l. listing: GET /v1/predictions at 50,000 stored rows vs an account with none
  h. history: a 512- and a 64-item history submitted vs a 1-item one
  c. added latency: `Prefer: wait` one at a time vs the simulator called directly
Floor (not the proxy: benchmarks/floor_app.py on waitress, the same parts, no proxy logic) for f:
  f. floor: the cheapest possible submission (key lookup, insert, commit, enqueue; then plus one
     Flask-Limiter window) vs GET /healthz on the same server: what bounds part a on this machine
Stack 2 (simulator at L ms, SLOTS job slots in 2 processes, 48 waitress threads; `--database-url` for PostgreSQL):
  w. synchronous at L ms: `Prefer: wait` over 32 connections vs the ideal 32 / L
  b. end to end: batches drained by the slots vs the ideal SLOTS / L, and PSS per slot
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import requests

from benchmarks.loadgen import Request, Result, run
from devtools.embedded_redis import EmbeddedRedis, free_port
from proxyapp.models import new_prediction_id
from tests.conftest import CANONICAL_BODY
from tests.integration.conftest import register_over_http
from tests.stack import SIMULATOR_KEY, Stack, wait_http

UNLIMITED = {"RATE_LIMIT": "10000000/minute", "POLL_RATE_LIMIT": "10000000/minute", "MAX_PENDING": "10000000",
             "REGISTER_RATE_LIMIT": "1000/minute"}
NO_CACHE = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
ICD_CODES = ["E11", "I10", "E78.5", "N18.3", "I25.10", "J44.9", "E66.9", "K21.9", "M54.5", "F32.9"]
Figures = dict[str, float]


def _stack(workdir: Path, redis_url: str, *, workers: int, slots: int, env: dict[str, str],
           threads: int, database_url: str | None = None) -> Stack:
    stack = Stack(workdir, redis_url, database_url=database_url, workers=workers, slots=slots,
                  env={**UNLIMITED, **env}, web_threads=threads)
    stack.start()
    _wait_for_workers(stack, stack.workers_wanted)
    time.sleep(2)  # the slots register just after their process's first heartbeat
    return stack


def _account(stack: Stack) -> tuple[str, str]:
    username = f"bench{uuid.uuid4().hex[:8]}"
    return username, register_over_http(stack.base_url, username, "benchmark passphrase")[1]


def _auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **NO_CACHE, **extra}


def _history_body(items: int) -> dict:
    """A valid request with an `items`-long history (age first, then ICD-10-CM codes)."""
    history = [{"code": "64", "system": "age", "display": "64"}]
    history += [{"code": ICD_CODES[n % len(ICD_CODES)], "system": "ICD10CM", "display": f"event {n}"}
                for n in range(items - 1)]
    return {**CANONICAL_BODY, "history": history}


def _closed(request: Request | list[Request], seconds: float, connections: int = 8) -> Result:
    return run(request, seconds=seconds, processes=2, connections=connections // 2)


def _tail(result: Result) -> float:
    return result.percentile(0.99) / result.percentile(0.5)


def _seed_rows(stack: Stack, username: str, count: int) -> None:
    """Store `count` finished predictions for the account straight into the stack's SQLite file."""
    database = sqlite3.connect(stack.env["DATABASE_URL"].removeprefix("sqlite:///"))
    with database:
        (user_id,) = database.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000")
        rows = [(new_prediction_id(), user_id, "prediction", "succeeded", 0, 1, 1, now, now, now)
                for _ in range(count)]
        database.executemany("INSERT INTO predictions (id, user_id, kind, status, cached, attempts, runs, "
                             "created_at, started_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    database.close()


def stack_one(workdir: Path, redis_url: str, seconds: float, threads: int, samples: int) -> dict[str, Callable[[], Figures]]:
    """Measurements on a stack whose simulator answers at once; returns one callable per part."""
    # No workers on this stack: the submission parts measure the web process alone (queued work
    # waits); the synchronous parts run on a second stack with workers.
    stack = _stack(workdir / "zero", redis_url, workers=0, slots=16, threads=threads, env={})
    # Every connection of the synchronous part may wait (one account each): nothing is refused 202.
    sync = _stack(workdir / "sync", redis_url, workers=2, slots=16, threads=threads,
                  env={"MAX_WAITING": str(threads), "MAX_WAITING_PER_ACCOUNT": "1"})
    base = stack.base_url
    health = Request("GET", f"{base}/healthz", {})
    _, submitter = _account(stack)
    waiters = [_account(sync)[1] for _ in range(8)]
    _empty_name, empty_key = _account(stack)
    full_name, full_key = _account(stack)
    _seed_rows(stack, full_name, 50_000)
    bodies = {n: _history_body(n) for n in (1, 64, 512)}

    def submission() -> Figures:
        baseline = _closed(health, seconds)
        submit = _closed(Request("POST", f"{base}/v1/predictions", _auth(submitter), CANONICAL_BODY), seconds)
        return {"healthz_rps": baseline.throughput, "submit_rps": submit.throughput,
                "ratio": submit.throughput / baseline.throughput, "p50_ms": submit.percentile(0.5),
                "p99_ms": submit.percentile(0.99), "p99/p50": _tail(submit)}

    def synchronous() -> Figures:
        baseline = _closed(Request("GET", f"{sync.base_url}/healthz", {}), seconds)
        wait = _closed([Request("POST", f"{sync.base_url}/v1/predictions", _auth(key, Prefer="wait=10"),
                                CANONICAL_BODY) for key in waiters], seconds)
        return {"healthz_rps": baseline.throughput, "wait_rps": wait.throughput,
                "ratio": wait.throughput / baseline.throughput, "p50_ms": wait.percentile(0.5),
                "p99_ms": wait.percentile(0.99), "p99/p50": _tail(wait),
                "non_200": sum(n for status, n in wait.statuses.items() if status != 200)}

    def listing() -> Figures:
        empty = _closed(Request("GET", f"{base}/v1/predictions?limit=20", _auth(empty_key)), seconds)
        full = _closed(Request("GET", f"{base}/v1/predictions?limit=20", _auth(full_key)), seconds)
        return {"empty_rps": empty.throughput, "rows_50k_rps": full.throughput,
                "ratio": full.throughput / empty.throughput}

    def history() -> Figures:
        rates = {n: _closed(Request("POST", f"{base}/v1/predictions", _auth(submitter), body), seconds).throughput
                 for n, body in bodies.items()}
        return {"items_1_rps": rates[1], "items_64_rps": rates[64], "items_512_rps": rates[512],
                "ratio_64": rates[64] / rates[1], "ratio_512": rates[512] / rates[1]}

    def added_latency() -> Figures:
        api = requests.Session()
        api.headers.update(_auth(waiters[0], Prefer="wait=10"))
        direct = requests.Session()
        direct.headers["Authorization"] = f"Token {SIMULATOR_KEY}"
        proxied_ms, direct_ms = [], []
        for _ in range(samples):
            start = time.perf_counter()
            direct.post(f"{sync.simulator_url}/predict", json=CANONICAL_BODY, timeout=30).raise_for_status()
            direct_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            response = api.post(f"{sync.base_url}/v1/predictions", json=CANONICAL_BODY, timeout=30)
            proxied_ms.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"Prefer: wait did not finish in time: {response.status_code}")
        return {"direct_p50_ms": _pct(direct_ms, 0.5), "proxy_p50_ms": _pct(proxied_ms, 0.5),
                "added_p50_ms": _pct(proxied_ms, 0.5) - _pct(direct_ms, 0.5),
                "added_p99_ms": _pct(proxied_ms, 0.99) - _pct(direct_ms, 0.99)}

    parts = {"a": submission, "s": synchronous, "l": listing, "h": history, "c": added_latency}
    parts["stop"] = lambda: (stack.stop(), sync.stop())  # type: ignore[assignment]
    return parts


def stack_slow(workdir: Path, redis_url: str, seconds: float, threads: int, slots: int, latency_ms: int,
               per_slot: int, database_url: str | None = None) -> dict[str, Callable[[], Figures]]:
    """Measurements against a simulator that takes `latency_ms` per call (on `database_url`, else SQLite)."""
    processes = 2
    # 32 clients waiting at once need 32 threads to wait in, plus threads for everyone else.
    stack = _stack(workdir / "slow", redis_url, workers=processes, slots=slots // processes, threads=48,
                   database_url=database_url,
                   env={"SIMULATOR_LATENCY_MS": str(latency_ms), "MAX_WAITING": "32", "MAX_WAITING_PER_ACCOUNT": "1"})
    base = stack.base_url
    waiters = [_account(stack)[1] for _ in range(32)]
    _, batcher = _account(stack)
    latency = latency_ms / 1000

    def synchronous_slow() -> Figures:
        wait = _closed([Request("POST", f"{base}/v1/predictions", _auth(key, Prefer="wait=30"), CANONICAL_BODY)
                        for key in waiters], seconds, connections=32)
        ideal = 32 / latency
        return {"wait_rps": wait.throughput, "ideal_rps": ideal, "fraction_of_ideal": wait.throughput / ideal,
                "p50_ms": wait.percentile(0.5), "p99_ms": wait.percentile(0.99)}

    def end_to_end() -> Figures:
        api = requests.Session()
        api.headers.update(_auth(batcher))
        total = slots * per_slot
        bodies = [_distinct_body(n) for n in range(total)]
        started = time.perf_counter()
        # Batches of 100 queue the work in a fraction of a second: the figure is the slots'.
        batches = [api.post(f"{base}/v1/batches", json={"predictions": bodies[i:i + 100]},
                            timeout=60).json()["urls"]["get"] for i in range(0, total, 100)]
        deadline = started + 120 + total * latency
        pending = total
        while pending and time.perf_counter() < deadline:
            counts = [api.get(url, timeout=30).json()["counts"] for url in batches]
            pending = sum(c.get("queued", 0) + c.get("running", 0) for c in counts)
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        workers = [p.pid for name, p in stack.processes.items() if name.startswith("worker")]
        ideal = slots / latency
        return {"completed_per_s": (total - pending) / elapsed, "ideal_per_s": ideal,
                "fraction_of_ideal": (total - pending) / elapsed / ideal,
                "pss_mb_per_slot": sum(_pss_mb(pid) for pid in workers) / slots, "unfinished": pending}

    return {"w": synchronous_slow, "b": end_to_end, "stop": stack.stop}  # type: ignore[dict-item]


def stack_floor(workdir: Path, redis_url: str, seconds: float, threads: int) -> dict[str, Callable[[], Figures]]:
    """The floor app (benchmarks/floor_app.py) on waitress with the proxy's stack settings (threads, body cap)."""
    database = str(workdir / "floor.sqlite")
    key = f"floor-{uuid.uuid4().hex}"
    env = {**os.environ, "FLOOR_DATABASE": database, "FLOOR_REDIS_URL": redis_url}
    subprocess.run([sys.executable, "-c", f"from benchmarks.floor_app import add_key; add_key({key!r})"],
                   env=env, check=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", f"--threads={threads}",
                               "--max-request-body-size=1048576", "benchmarks.floor_app:app"],
                              env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", process=server)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def floor() -> Figures:
        baseline = _closed(Request("GET", f"{base}/healthz", {}), seconds)
        bare = _closed(Request("POST", f"{base}/submit", headers, CANONICAL_BODY), seconds)
        limited = _closed(Request("POST", f"{base}/submit-limited", headers, CANONICAL_BODY), seconds)
        if set(bare.statuses) != {202} or set(limited.statuses) != {202}:
            raise RuntimeError(f"the floor app answered {bare.statuses} and {limited.statuses}")
        return {"healthz_rps": baseline.throughput, "floor_rps": bare.throughput,
                "ratio": bare.throughput / baseline.throughput, "with_limiter_rps": limited.throughput,
                "ratio_with_limiter": limited.throughput / baseline.throughput}

    def stop() -> None:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    return {"f": floor, "stop": stop}  # type: ignore[dict-item]


def _pct(values: list[float], fraction: float) -> float:
    return sorted(values)[min(len(values) - 1, int(fraction * len(values)))]


def _pss_mb(pid: int) -> float:
    """Proportional set size of a process and its children (shared pages split fairly)."""
    total = 0
    for candidate in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        direct = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []
    return [grand for child in direct for grand in (child, *_children(child))]


def _wait_for_workers(stack: Stack, count: int, timeout: float = 180.0) -> None:
    """Block until /readyz reports `count` live worker processes."""
    deadline = time.perf_counter() + timeout
    live = 0
    while time.perf_counter() < deadline:
        live = requests.get(f"{stack.base_url}/readyz", timeout=10).json()["checks"]["workers"].get("live", 0)
        if live >= count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"only {live} of {count} worker processes started")


def _distinct_body(n: int) -> dict:
    """The canonical example made unique (age and sample count)."""
    body = {**CANONICAL_BODY, "num_predictions": 1 + n // 121}
    body["history"] = [{"code": str(n % 121), "system": "age", "display": str(n % 121)}, *CANONICAL_BODY["history"][1:]]
    return body


def _summary(runs: list[Figures]) -> str:
    """Each figure as min / median / max over the repetitions."""
    values: dict[str, list[float]] = defaultdict(list)
    for figures in runs:
        for name, value in figures.items():
            values[name].append(value)
    return ", ".join(f"{name}={min(v):.2f}/{statistics.median(v):.2f}/{max(v):.2f}" for name, v in values.items())


NAMES = {"a": "submission path (8 connections)", "s": "synchronous path, upstream 0 ms (8 connections)",
         "l": "listing at 50,000 rows", "h": "history length", "c": "added latency of Prefer: wait",
         "f": "floor of the submission path, not the proxy (8 connections)",
         "w": "synchronous path, upstream slow (32 connections)", "b": "end to end"}


def main() -> None:
    """Run the selected parts `--repeat` times, interleaved, and print min/median/max of each figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="aslhcfwb", help="letters of the parts to run (see the module doc)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--latency-ms", type=int, default=500)
    parser.add_argument("--per-slot", type=int, default=4)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--database-url", help="an empty PostgreSQL database for parts w and b (the others "
                        "seed SQLite directly); default: a SQLite file")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {int(Path('/proc/meminfo').read_text().split()[1]) // 1024} MiB; "
          f"figures are min/median/max over {args.repeat} interleaved repetitions")
    with tempfile.TemporaryDirectory(prefix="proxyapp-bench-") as tmp, EmbeddedRedis() as redis_url:
        workdir = Path(tmp)
        for letters, group in (
            ("aslhc", lambda: stack_one(workdir, redis_url, args.seconds, args.threads, args.samples)),
            ("f", lambda: stack_floor(workdir, redis_url, args.seconds, args.threads)),
            ("wb", lambda: stack_slow(workdir, redis_url, args.seconds, args.threads, args.slots, args.latency_ms,
                                      args.per_slot, args.database_url)),
        ):
            if not set(letters) & set(args.parts):
                continue
            parts = group()
            try:
                wanted = [name for name in parts if name in args.parts and name != "stop"]
                results: dict[str, list[Figures]] = {name: [] for name in wanted}
                for _ in range(args.repeat):
                    for name in wanted:
                        results[name].append(parts[name]())
                for name in wanted:
                    print(f"{name}. {NAMES[name]}: {_summary(results[name])}", flush=True)
            finally:
                parts["stop"]()


if __name__ == "__main__":
    main()
