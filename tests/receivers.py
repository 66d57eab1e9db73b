"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 in a thread that records every POST."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it (header names lower-cased)."""

    path: str
    headers: dict[str, str]
    body: bytes


# An answer: a status code, or a function that writes the whole response itself.
Answer = int | Callable[[BaseHTTPRequestHandler], None]


class WebhookReceiver:
    """Answers each path's scripted answers in order, then 200; `received` lists what came, in order."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: dict[str, list[Answer]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                answers = receiver.script.get(self.path)
                answer = answers.pop(0) if answers else 200
                if callable(answer):
                    answer(self)
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # close() waits for the serving loop to notice: poll often (the default, 0.5 s, is paid per test).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def answer(self, path: str, *answers: Answer) -> None:
        """Script the next answers to POSTs on `path`."""
        self.script.setdefault(path, []).extend(answers)

    def to(self, path: str) -> list[Received]:
        """What arrived on `path` so far."""
        return [request for request in self.received if request.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 60.0) -> list[Received]:
        """The first `count` requests to `path`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        while len(got := self.to(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} request(s) to {path} did not arrive in {timeout} s: {self.received}")
            time.sleep(0.1)
        return got[:count]

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
