"""Start the real processes of a proxyapp stack for integration tests and benchmarks.

Each piece is a subprocess on a free loopback port: the simulator, waitress serving
`wsgi:app`, and RQ workers, all sharing one Redis and one database.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Self

import requests

from devtools.embedded_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
SIMULATOR_KEY = "gh_s_k-test-simulator-key"


def wait_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    """Poll a URL until it answers below 500, or fail (early if the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    """Signal the process group a stack process leads, if anything of it is left."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


class Stack:
    """Simulator + waitress + N workers on one Redis and database; `stop()` ends them all."""

    def __init__(self, workdir: Path, redis_url: str, *, database_url: str | None = None, workers: int = 2,
                 env: Mapping[str, str] | None = None, web_threads: int = 8, web_processes: int = 1,
                 worker_class: str = "slots", slots: int = 4, scheduler: bool = True,
                 use_procfile_web: bool = False) -> None:
        self.workdir = workdir
        self.use_procfile_web = use_procfile_web  # start web exactly as the Procfile's `web:` line does
        self.logdir = workdir / "logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.simulator_url = f"http://127.0.0.1:{free_port()}"
        self.web_ports = [free_port() for _ in range(web_processes)]
        self.base_urls = [f"http://127.0.0.1:{port}" for port in self.web_ports]
        self.base_url = self.base_urls[0]
        self.workers_wanted = workers
        self.web_threads = web_threads
        self.worker_class = worker_class
        self.slots = slots if worker_class == "slots" else 1
        self.scheduler_wanted = scheduler
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "APP_ENV": "testing",
            "INSTANCE_PATH": str(workdir / "instance"),
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'proxyapp.db'}",
            "REDIS_URL": redis_url,
            "QUEUE_NAME": f"test-{uuid.uuid4().hex[:8]}",
            "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            "UPSTREAM_URL": self.simulator_url,
            "UPSTREAM_API_KEY": SIMULATOR_KEY,
            "SIMULATOR_API_KEY": SIMULATOR_KEY,
            "PYTHONUNBUFFERED": "1",
            "WORKER_CONCURRENCY": str(self.slots),
            "WEB_THREADS": str(web_threads),
            **(env or {}),
        }

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes[name] = process
        return process

    def migrate(self) -> None:
        """Create the schema with the real migrations."""
        subprocess.run([sys.executable, "-m", "flask", "--app", "proxyapp", "db", "upgrade"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)

    def start_simulator(self) -> None:
        """Start the upstream simulator and wait for it."""
        port = self.simulator_url.rsplit(":", 1)[1]
        process = self._spawn("simulator", [sys.executable, "-m", "simulator", "--port", port, "--threads", "64"])
        wait_http(f"{self.simulator_url}/healthz", process=process)

    def procfile_web_args(self, port: int) -> list[str]:
        """The Procfile's `web:` line, expanded as a shell would with PORT and this stack's settings."""
        line = next(row for row in (ROOT / "Procfile").read_text().splitlines() if row.startswith("web:"))
        values = {**self.env, "PORT": str(port), "WEB_THREADS": str(self.web_threads)}
        expanded = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m.group(1)) or m.group(2), line[4:])
        args = shlex.split(expanded)
        assert args[0] == "waitress-serve", args
        return [sys.executable, "-m", "waitress", *args[1:]]

    def start_web(self) -> None:
        """Serve wsgi:app with one waitress process per port and wait for each."""
        if self.use_procfile_web:
            process = self._spawn("web", self.procfile_web_args(self.web_ports[0]))
            wait_http(f"{self.base_url}/healthz", process=process)
            return
        for index, (port, url) in enumerate(zip(self.web_ports, self.base_urls, strict=True)):
            name = "web" if index == 0 else f"web-{index}"
            process = self._spawn(name, [
                sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}",
                f"--threads={self.web_threads}", "--max-request-body-size=1048576", "wsgi:app",
            ])
            wait_http(f"{url}/", process=process)

    def start_worker(self, index: int) -> subprocess.Popen:
        """Start one worker process (`slots` job slots, each a registered RQ worker)."""
        return self._spawn(f"worker-{index}", [sys.executable, "-m", "workers", "--worker-class", self.worker_class])

    def start_scheduler(self) -> subprocess.Popen:
        """Start the reconciler (`python -m workers.scheduler`)."""
        return self._spawn("scheduler", [sys.executable, "-m", "workers.scheduler"])

    def start(self) -> Stack:
        """Migrate, then start simulator, web, workers and (unless told not to) the scheduler; on failure stop and print the logs."""
        try:
            self.migrate()
            self.start_simulator()
            self.start_web()
            for index in range(self.workers_wanted):
                self.start_worker(index)
            if self.scheduler_wanted:
                self.start_scheduler()
        except Exception:
            self.stop()
            print(self.logs())
            raise
        return self

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send a signal to one process (fault injection)."""
        self.processes[name].send_signal(sig)

    def stop(self) -> None:
        """Terminate every process group (a killed process may have left children), then kill what is left."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self) -> str:
        """Everything the processes printed, for diagnostics and log assertions."""
        return "\n".join(f"== {path.name}\n{path.read_text(errors='replace')}" for path in
                         sorted(self.logdir.glob("*.log")))
