"""`make bench`: the proxy measured against its own baselines on this machine.

a. Submission path: POST /v1/predictions (auth, limits, validation, insert, enqueue)
   against GET /healthz on the same waitress, closed-loop throughput and open-loop
   latency at half the saturating load.
b. End to end: simulator at a fixed latency L, C worker slots; completed predictions per
   second against the ideal C / L, and memory (PSS) per slot.
c. Added latency: `Prefer: wait` through the proxy against calling the simulator directly.

Every figure is printed with its baseline from the same run; nothing is asserted.
Traffic goes only to loopback servers this script starts, and every loop is bounded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from benchmarks.loadgen import Request, run
from proxyapp.embedded_redis import EmbeddedRedis
from tests.conftest import CANONICAL_BODY
from tests.integration.conftest import register_over_http
from tests.stack import SIMULATOR_KEY, Stack

UNLIMITED = {"RATE_LIMIT": "1000000/minute", "MAX_PENDING": "1000000", "REGISTER_RATE_LIMIT": "1000/minute"}


def _stack(workdir: Path, redis_url: str, *, workers: int, env: dict[str, str], threads: int = 8,
           worker_class: str = "simple") -> Stack:
    stack = Stack(workdir, redis_url, workers=workers, env={**UNLIMITED, **env}, web_threads=threads,
                  worker_class=worker_class)
    stack.start()
    return stack


def _key(stack: Stack) -> str:
    return register_over_http(stack.base_url, f"bench{uuid.uuid4().hex[:8]}", "benchmark passphrase")[1]


def submission_path(workdir: Path, redis_url: str, seconds: float, threads: int) -> dict[str, float]:
    """(a) Throughput ratio and latency at half load of the submission path."""
    stack = _stack(workdir / "a", redis_url, workers=0, env={}, threads=threads)
    try:
        headers = {"Authorization": f"Bearer {_key(stack)}", "Content-Type": "application/json"}
        health = Request("GET", f"{stack.base_url}/healthz", {})
        submit = Request("POST", f"{stack.base_url}/v1/predictions", headers, CANONICAL_BODY)
        health_max = run(health, seconds=seconds, processes=2, connections=4)
        submit_max = run(submit, seconds=seconds, processes=2, connections=4)
        half = submit_max.throughput / 2
        paced = run(submit, seconds=seconds, processes=2, connections=4, rate=half)
        paced_health = run(health, seconds=seconds, processes=2, connections=4, rate=half)
    finally:
        stack.stop()
    return {
        "healthz_rps": health_max.throughput, "submit_rps": submit_max.throughput,
        "ratio": submit_max.throughput / health_max.throughput, "half_load_rps": half,
        "submit_p50_ms": paced.percentile(0.5), "submit_p99_ms": paced.percentile(0.99),
        "healthz_p50_ms": paced_health.percentile(0.5), "healthz_p99_ms": paced_health.percentile(0.99),
        "submit_statuses": dict(submit_max.statuses),
    }


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


def end_to_end(workdir: Path, redis_url: str, slots: int, latency_ms: int, per_slot: int,
               worker_class: str) -> dict[str, float]:
    """(b) Completed predictions per second with `slots` workers against the ideal slots / latency."""
    stack = _stack(workdir / f"b-{worker_class}", redis_url, workers=slots,
                   env={"SIMULATOR_LATENCY_MS": str(latency_ms)}, worker_class=worker_class)
    try:
        _wait_for_workers(stack, slots)
        api = requests.Session()
        api.headers.update({"Authorization": f"Bearer {_key(stack)}", "Cache-Control": "no-cache"})
        total = slots * per_slot
        bodies = [_distinct_body(n) for n in range(total)]
        started = time.perf_counter()
        # Batches of 100 put the work on the queue in a fraction of a second, so the figure
        # is the workers' throughput rather than the submission path's.
        batches = [api.post(f"{stack.base_url}/v1/batches", json={"predictions": bodies[i:i + 100]},
                            timeout=60).json()["urls"]["get"] for i in range(0, total, 100)]
        deadline = started + 120 + total * latency_ms / 1000
        pending = total
        while pending and time.perf_counter() < deadline:
            counts = [api.get(url, timeout=30).json()["counts"] for url in batches]
            pending = sum(c.get("queued", 0) + c.get("running", 0) for c in counts)
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        workers = [p.pid for name, p in stack.processes.items() if name.startswith("worker")]
        pss = sum(_pss_mb(pid) for pid in workers)
    finally:
        stack.stop()
    ideal = slots / (latency_ms / 1000)
    return {"completed_per_s": (total - pending) / elapsed, "ideal_per_s": ideal,
            "fraction_of_ideal": (total - pending) / elapsed / ideal, "pss_mb_per_slot": pss / slots,
            "unfinished": pending}


def _wait_for_workers(stack: Stack, count: int, timeout: float = 180.0) -> None:
    """Block until /readyz reports `count` live workers (32 processes take a while to start on 2 cores)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        live = requests.get(f"{stack.base_url}/readyz", timeout=10).json()["checks"]["workers"].get("live", 0)
        if live >= count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"only {live} of {count} workers started")


def _distinct_body(n: int) -> dict:
    """The canonical example made unique (age and sample count), so no result comes from the cache."""
    body = {**CANONICAL_BODY, "num_predictions": 1 + n // 121}
    body["history"] = [{"code": str(n % 121), "system": "age", "display": str(n % 121)}, *CANONICAL_BODY["history"][1:]]
    return body


def added_latency(workdir: Path, redis_url: str, samples: int) -> dict[str, float]:
    """(c) `Prefer: wait` through the proxy against the simulator called directly."""
    stack = _stack(workdir / "c", redis_url, workers=2, env={})
    try:
        api = requests.Session()
        api.headers.update({"Authorization": f"Bearer {_key(stack)}", "Prefer": "wait=10"})
        direct = requests.Session()
        direct.headers["Authorization"] = f"Token {SIMULATOR_KEY}"
        proxied_ms, direct_ms = [], []
        for _ in range(samples):
            start = time.perf_counter()
            direct.post(f"{stack.simulator_url}/predict", json=CANONICAL_BODY, timeout=30).raise_for_status()
            direct_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            response = api.post(f"{stack.base_url}/v1/predictions", json=CANONICAL_BODY, timeout=30)
            proxied_ms.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"Prefer: wait did not finish in time: {response.status_code}")
    finally:
        stack.stop()

    def pct(values: list[float], fraction: float) -> float:
        return sorted(values)[min(len(values) - 1, int(fraction * len(values)))]

    return {"direct_p50_ms": pct(direct_ms, 0.5), "direct_p99_ms": pct(direct_ms, 0.99),
            "proxy_p50_ms": pct(proxied_ms, 0.5), "proxy_p99_ms": pct(proxied_ms, 0.99),
            "added_p50_ms": pct(proxied_ms, 0.5) - pct(direct_ms, 0.5),
            "added_p99_ms": pct(proxied_ms, 0.99) - pct(direct_ms, 0.99),
            "added_mean_ms": statistics.mean(proxied_ms) - statistics.mean(direct_ms)}


def main() -> None:
    """Run the selected parts and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="abc")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--slots", type=int, default=32)
    parser.add_argument("--latency-ms", type=int, default=500)
    parser.add_argument("--per-slot", type=int, default=8)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--worker-class", default="simple", choices=["simple", "fork"])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, "
          f"{int(Path('/proc/meminfo').read_text().split()[1]) // 1024} MiB memory")
    with tempfile.TemporaryDirectory(prefix="proxyapp-bench-") as tmp, EmbeddedRedis() as redis_url:
        workdir = Path(tmp)
        if "a" in args.parts:
            figures = submission_path(workdir, redis_url, args.seconds, args.threads)
            print(f"a. submission path ({args.threads} waitress threads):", _fmt(figures))
        if "b" in args.parts:
            figures = end_to_end(workdir, redis_url, args.slots, args.latency_ms, args.per_slot, args.worker_class)
            print(f"b. end to end ({args.worker_class} workers):", _fmt(figures))
        if "c" in args.parts:
            print("c. added latency:", _fmt(added_latency(workdir, redis_url, args.samples)))


def _fmt(figures: dict) -> str:
    return ", ".join(f"{name}={value:.2f}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in figures.items())


if __name__ == "__main__":
    main()
