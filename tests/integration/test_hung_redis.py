"""A hung Redis (a real redis-server, stopped with SIGSTOP) fails a request within one socket timeout."""

from __future__ import annotations

import signal
import time

import pytest

from devtools.embedded_redis import EmbeddedRedis
from tests.conftest import Accounts, bearer, built_app

pytestmark = pytest.mark.integration


def test_hung_redis_fails_within_the_socket_timeout(app_env, tmp_path, monkeypatch):
    embedded = EmbeddedRedis()
    try:
        with built_app({**app_env, "REDIS_URL": embedded.start()}, tmp_path, monkeypatch) as application:
            _, key = Accounts(application).create()
            client = application.test_client()
            assert client.get("/v1/me", headers=bearer(key)).status_code == 200
            embedded.process.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            response = client.get("/v1/me", headers=bearer(key))
            elapsed = time.monotonic() - started
            embedded.process.send_signal(signal.SIGCONT)
            assert client.get("/v1/me", headers=bearer(key)).status_code == 200  # recovers by itself
    finally:
        embedded.__exit__(None, None, None)
    assert response.status_code == 503
    # A bound on a failure path, not a performance figure: one socket timeout, no retries.
    assert elapsed < application.config["REDIS_SOCKET_TIMEOUT"] + 1.5
