"""`python -m benchmarks.soak_faults`: a bounded soak of the job lifecycle under injected faults.

Starts a private stack on loopback (its own embedded Redis, the simulator, waitress, RQ
workers; the scheduler only with --scheduler), submits N predictions at a steady pace while SIGKILLing busy
workers and restarting Redis, then waits for every accepted prediction to finish and
prints: accepted, lost (non-terminal at the end), duplicate upstream calls (bodies the
simulator saw more than once) and the slowest recovery (from a fault until every
prediction pending at that moment was terminal). A client that gets 503 retries with the
same Idempotency-Key, as a careful client would. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
from redis import Redis

from devtools.embedded_redis import EmbeddedRedis
from tests.conftest import CANONICAL_BODY
from tests.integration.conftest import TERMINAL
from tests.integration.fault_stack import api_session, start_stack
from tests.stack import SIMULATOR_KEY, Stack

SOAK_ENV = {"REGISTER_RATE_LIMIT": "1000/hour", "RATE_LIMIT": "1000000/minute", "MAX_PENDING": "1000000",
            "MAX_RUNS": "3"}
REDIS_DOWN_SECONDS = 2.0


@dataclass
class Soak:
    """What happened: accepted predictions, refusals, faults and when each prediction finished."""

    started: float = field(default_factory=time.monotonic)
    accepted: dict[str, dict] = field(default_factory=dict)  # id -> body
    finished_at: dict[str, float] = field(default_factory=dict)
    final: dict[str, dict] = field(default_factory=dict)
    refused: Counter = field(default_factory=Counter)
    faults: list[tuple[str, float, set[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        """Seconds since the soak started."""
        return time.monotonic() - self.started

    def pending(self) -> set[str]:
        """Accepted predictions not yet seen terminal."""
        with self.lock:
            return set(self.accepted) - set(self.finished_at)


def body_for(index: int) -> dict:
    """A distinct valid body per index, so the simulator's per-body counts tell predictions apart."""
    return {**CANONICAL_BODY, "generation_length": index % 128 + 1,
            "inference_threshold": round(0.05 + index * 0.0029, 6)}


def digest(body: dict) -> str:
    """The simulator's per-body key: sha256 of canonical JSON."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def submit_all(stack: Stack, api: requests.Session, soak: Soak, count: int, pace: float, deadline: float) -> None:
    """Submit `count` predictions, one every `pace` seconds; retry 503s with the same Idempotency-Key."""
    for index in range(count):
        body, key = body_for(index), uuid.uuid4().hex
        while time.monotonic() < deadline:
            try:
                response = api.post(f"{stack.base_url}/v1/predictions", json=body,
                                    headers={"Idempotency-Key": key}, timeout=30)
            except requests.RequestException as error:
                soak.refused[type(error).__name__] += 1
                time.sleep(0.5)
                continue
            if response.status_code in (200, 202):
                with soak.lock:
                    soak.accepted[response.json()["id"]] = body
                break
            soak.refused[response.status_code] += 1
            time.sleep(min(float(response.headers.get("Retry-After", 1)), 1.0))
        time.sleep(pace)


def watch(stack: Stack, api: requests.Session, soak: Soak, stop: threading.Event) -> None:
    """Record when each accepted prediction is first seen terminal."""
    while not stop.is_set():
        for prediction_id in soak.pending():
            try:
                body = api.get(f"{stack.base_url}/v1/predictions/{prediction_id}", timeout=10).json()
            except (requests.RequestException, ValueError):
                continue
            if body.get("status") in TERMINAL:
                with soak.lock:
                    soak.finished_at[prediction_id] = soak.now()
                    soak.final[prediction_id] = body
        stop.wait(0.25)


def busy_worker(stack: Stack, redis: Redis) -> str:
    """A worker process holding a run lease right now, else any live worker."""
    pids = set()
    for key in redis.scan_iter(match=f"proxyapp:{stack.env['QUEUE_NAME']}:lease:*"):
        holder = redis.get(key)
        if holder:
            pids.add(int(holder.decode().split(":", 1)[0]))
    workers = {name: p for name, p in stack.processes.items() if name.startswith("worker-") and p.poll() is None}
    busy = [name for name, process in workers.items() if process.pid in pids]
    return (busy or sorted(workers))[0]


def inject_faults(stack: Stack, own_redis: EmbeddedRedis, soak: Soak, schedule: list[tuple[float, str]]) -> None:
    """Run the fault schedule: ("kill", t) SIGKILLs a busy worker and starts another; ("redis", t) restarts Redis."""
    redis = Redis.from_url(own_redis.url, socket_timeout=2, socket_connect_timeout=2)
    spare = 100
    for at, kind in schedule:
        time.sleep(max(0.0, at - soak.now()))
        pending = soak.pending()
        if kind == "kill":
            name = busy_worker(stack, redis)
            stack.kill(name)
            stack.processes[name].wait(timeout=10)
            stack.start_worker(spare)
            spare += 1
            soak.faults.append((f"kill -9 {name}", soak.now(), pending))
        else:
            soak.faults.append(("redis restart", soak.now(), pending))
            own_redis.stop()
            time.sleep(REDIS_DOWN_SECONDS)
            own_redis.start()


def fault_schedule(kills: int, restarts: int, window: float) -> list[tuple[float, str]]:
    """Faults spread evenly over the submission window, the Redis restarts between kills."""
    kinds = ["kill"] * kills
    for n in range(restarts):
        kinds.insert((n + 1) * len(kinds) // (restarts + 1) + n, "redis")
    step = window / (len(kinds) + 1)
    return [(step * (i + 1), kind) for i, kind in enumerate(kinds)]


def upstream_duplicates(stack: Stack, soak: Soak) -> tuple[int, int]:
    """(extra calls beyond one per accepted body, calls for bodies never accepted) from the simulator's stats."""
    stats = requests.get(f"{stack.simulator_url}/_control/stats", headers={"Authorization": f"Token {SIMULATOR_KEY}"},
                         timeout=10).json()["bodies"]
    accepted = {digest(body) for body in soak.accepted.values()}
    duplicates = sum(calls - 1 for key, calls in stats.items() if key in accepted and calls > 1)
    strays = sum(calls for key, calls in stats.items() if key not in accepted)
    return duplicates, strays


def report(soak: Soak, stack: Stack, args: argparse.Namespace, took: float) -> None:
    """Print the figures."""
    lost = soak.pending()
    outcomes = Counter(body["status"] if body["status"] != "failed" else f"failed:{body['error']['code']}"
                       for body in soak.final.values())
    duplicates, strays = upstream_duplicates(stack, soak)
    recoveries = []
    for name, at, pending in soak.faults:
        done = [soak.finished_at.get(pid) for pid in pending]
        recoveries.append((name, at, None if None in done else max(done, default=at) - at))
    print(f"soak: {args.predictions} predictions, {args.kills} worker kills, {args.redis_restarts} Redis restarts, "
          f"{args.workers} workers, {'with' if args.scheduler else 'no'} scheduler, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}, {took:.0f} s")
    print(f"accepted: {len(soak.accepted)}   refusals retried by the client: {dict(soak.refused) or 0}")
    print(f"outcomes: {dict(outcomes)}")
    print(f"lost (non-terminal at the end): {len(lost)}")
    print(f"duplicate upstream calls: {duplicates}   calls for bodies never accepted: {strays}")
    for name, at, seconds in recoveries:
        outcome = "NOT RECOVERED" if seconds is None else f"recovered in {seconds:.1f} s"
        print(f"  {name:>18} at {at:5.1f} s: {outcome}")
    slowest = max((s for _, _, s in recoveries if s is not None), default=0.0)
    never = "" if all(s is not None for *_, s in recoveries) else " (some never recovered)"
    print(f"slowest recovery: {slowest:.1f} s{never}")
    if soak.refused.get(500):
        suspects = [line for line in stack.logs().splitlines()
                    if '"status": 500' in line or '"level": "error"' in line or "Traceback" in line]
        print("server errors logged:\n" + "\n".join(line[:3000] for line in suspects[:10]))


def run_soak(stack: Stack, own_redis: EmbeddedRedis, args: argparse.Namespace, hard_stop: float) -> None:
    """Submit, inject faults, wait for every accepted prediction (or the hard stop), then report."""
    api = api_session(stack)
    requests.put(f"{stack.simulator_url}/_control", json={"latency_ms": args.latency_ms,
                 "jitter_ms": args.latency_ms // 2}, headers={"Authorization": f"Token {SIMULATOR_KEY}"}, timeout=10)
    soak, stop = Soak(), threading.Event()
    schedule = fault_schedule(args.kills, args.redis_restarts, args.predictions * args.pace)
    submitter = threading.Thread(target=submit_all, args=(stack, api, soak, args.predictions, args.pace, hard_stop))
    injector = threading.Thread(target=inject_faults, args=(stack, own_redis, soak, schedule))
    watcher = threading.Thread(target=watch, args=(stack, api, soak, stop))
    for thread in (submitter, injector, watcher):
        thread.start()
    submitter.join()
    injector.join()
    while soak.pending() and time.monotonic() < hard_stop:
        time.sleep(0.5)
    stop.set()
    watcher.join()
    report(soak, stack, args, soak.now())


def main() -> None:
    """Run one bounded soak and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=300)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--redis-restarts", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--pace", type=float, default=0.15, help="seconds between submissions")
    parser.add_argument("--latency-ms", type=int, default=300, help="simulated upstream latency")
    parser.add_argument("--database-url", help="a PostgreSQL URL to use instead of a SQLite file")
    parser.add_argument("--scheduler", action="store_true",
                        help="also run the scheduler process (recovery must not need it, so it is off by default)")
    parser.add_argument("--max-seconds", type=float, default=900, help="hard stop for the whole soak")
    args = parser.parse_args()

    hard_stop = time.monotonic() + args.max_seconds
    own_redis = EmbeddedRedis()  # private and restartable on its port; the machine's Redis is never touched
    with tempfile.TemporaryDirectory(prefix="proxyapp-soak-") as workdir, own_redis as redis_url:
        stack = start_stack(Path(workdir), redis_url, args.database_url, workers=args.workers, env=SOAK_ENV,
                            scheduler=args.scheduler)
        try:
            run_soak(stack, own_redis, args, hard_stop)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
