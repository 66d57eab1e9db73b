"""Rate limits hold exactly across two waitress processes sharing one Redis, and Redis outages fail closed."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devtools.embedded_redis import EmbeddedRedis, free_port
from tests.conftest import CANONICAL_BODY
from tests.integration.fault_stack import api_session
from tests.stack import Stack

pytestmark = pytest.mark.integration
LIMIT = 20


@pytest.fixture(scope="module")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A Redis of this module's own, so it can be stopped and restarted on the same port."""
    server = EmbeddedRedis(port=free_port())
    server.start()
    yield server
    server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def two_webs(tmp_path_factory, redis_server) -> Iterator[Stack]:
    """Two waitress processes (and workers) on one Redis and one database."""
    with Stack(Path(tmp_path_factory.mktemp("limits")), redis_server.url, workers=1, web_processes=2,
               env={"RATE_LIMIT": f"{LIMIT}/minute", "REGISTER_RATE_LIMIT": "100/minute"}) as stack:
        yield stack


def test_n_plus_one_concurrent_submissions_across_processes_accept_exactly_n(two_webs):
    api = api_session(two_webs)
    urls = [f"{two_webs.base_urls[n % 2]}/v1/predictions" for n in range(LIMIT + 1)]
    with ThreadPoolExecutor(max_workers=LIMIT + 1) as pool:
        statuses = list(pool.map(lambda url: api.post(url, json=CANONICAL_BODY, timeout=30).status_code, urls))
    assert sorted(statuses) == [202] * LIMIT + [429]


def test_headers_decrease_across_processes_and_other_account_unaffected(two_webs):
    api = api_session(two_webs)
    remaining = [int(api.post(f"{two_webs.base_urls[n % 2]}/v1/predictions", json=CANONICAL_BODY,
                              timeout=30).headers["X-RateLimit-Remaining"]) for n in range(4)]
    assert remaining == [LIMIT - 1, LIMIT - 2, LIMIT - 3, LIMIT - 4]
    other = api_session(two_webs)
    response = other.post(f"{two_webs.base_urls[1]}/v1/predictions", json=CANONICAL_BODY, timeout=30)
    assert response.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)


def test_redis_down_gives_503_then_recovers(two_webs, redis_server):
    api = api_session(two_webs)
    assert api.get(f"{two_webs.base_url}/v1/me", timeout=30).status_code == 200
    redis_server.stop()
    try:
        for url in two_webs.base_urls:
            for response in (api.get(f"{url}/v1/me", timeout=30),
                             api.post(f"{url}/v1/predictions", json=CANONICAL_BODY, timeout=30)):
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "unavailable"
                assert int(response.headers["Retry-After"]) >= 1
    finally:
        redis_server.start()
    recovered = [api.get(f"{url}/v1/me", timeout=30).status_code for url in two_webs.base_urls for _ in range(2)]
    assert recovered[-2:] == [200, 200]
