"""Per-process state for jobs: the Flask app, and a pooled upstream client per job slot."""

from __future__ import annotations

import os
import threading

from flask import Flask

from proxyapp import create_app
from proxyapp.services.upstream.client import UpstreamClient

_app: Flask | None = None
_clients = threading.local()


def get_app() -> Flask:
    """The worker's app, built once per process (or installed by the entry point)."""
    global _app
    if _app is None:
        _app = create_app()
    return _app


def set_app(app: Flask) -> None:
    """Use an app built elsewhere (the worker entry point, tests)."""
    global _app
    _app = app


def get_upstream() -> UpstreamClient:
    """One pooled client per slot thread, made after any fork (sockets are shared by neither)."""
    pid = os.getpid()
    if getattr(_clients, "pid", None) != pid:
        _clients.pid, _clients.client = pid, UpstreamClient.from_config(get_app().config)
    return _clients.client
