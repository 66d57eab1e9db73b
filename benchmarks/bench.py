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


def _stack(workdir: Path, redis_url: str, *, workers: int, env: dict[str, str], threads: int = 8) -> Stack:
    stack = Stack(workdir, redis_url, workers=workers, env={**UNLIMITED, **env}, web_threads=threads)
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


def end_to_end(workdir: Path, redis_url: str, slots: int, latency_ms: int, per_slot: int) -> dict[str, float]:
    """(b) Completed predictions per second with `slots` workers against the ideal slots / latency."""
    stack = _stack(workdir / "b", redis_url, workers=slots, env={"SIMULATOR_LATENCY_MS": str(latency_ms)})
    try:
        time.sleep(2)  # let every worker register and block on the queue
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {_key(stack)}"
        total = slots * per_slot
        started = time.perf_counter()
        ids = [api.post(f"{stack.base_url}/v1/predictions", json=CANONICAL_BODY, timeout=30).json()["id"]
               for _ in range(total)]
        pending = set(ids)
        deadline = started + 120 + total * latency_ms / 1000
        while pending and time.perf_counter() < deadline:
            pending = {pid for pid in pending if api.get(f"{stack.base_url}/v1/predictions/{pid}",
                                                         timeout=30).json()["status"] in ("queued", "running")}
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        workers = [p.pid for name, p in stack.processes.items() if name.startswith("worker")]
        pss = sum(_pss_mb(pid) for pid in workers)
    finally:
        stack.stop()
    ideal = slots / (latency_ms / 1000)
    return {"completed_per_s": (total - len(pending)) / elapsed, "ideal_per_s": ideal,
            "fraction_of_ideal": (total - len(pending)) / elapsed / ideal, "pss_mb_per_slot": pss / slots,
            "unfinished": len(pending)}


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
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, "
          f"{int(Path('/proc/meminfo').read_text().split()[1]) // 1024} MiB memory")
    with tempfile.TemporaryDirectory(prefix="proxyapp-bench-") as tmp, EmbeddedRedis() as redis_url:
        workdir = Path(tmp)
        if "a" in args.parts:
            print("a. submission path:", _fmt(submission_path(workdir, redis_url, args.seconds, args.threads)))
        if "b" in args.parts:
            print("b. end to end:", _fmt(end_to_end(workdir, redis_url, args.slots, args.latency_ms, args.per_slot)))
        if "c" in args.parts:
            print("c. added latency:", _fmt(added_latency(workdir, redis_url, args.samples)))


def _fmt(figures: dict) -> str:
    return ", ".join(f"{name}={value:.2f}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in figures.items())


if __name__ == "__main__":
    main()
