"""MAX_PENDING holds when one account's submissions race each other (real waitress threads, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.databases import DATABASE_KINDS, temporary_database
from tests.integration.conftest import simulator
from tests.integration.fault_stack import api_session, start_stack, unique_body
from tests.stack import Stack

pytestmark = pytest.mark.integration
CAP = 3
PARALLEL = 24


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("pending-cap")
    with temporary_database(request.param, workdir) as database_url:
        # No worker: nothing finishes while the requests race, so every accepted one stays pending.
        running = start_stack(workdir, redis_url, database_url, workers=0, env={"MAX_PENDING": str(CAP)})
        try:
            yield running
        finally:
            running.stop()


def test_parallel_submissions_never_pass_the_pending_cap(stack):
    api = api_session(stack)
    simulator(stack, "POST", "/_control/reset")

    def submit(_: int) -> requests.Response:
        return api.post(f"{stack.base_url}/v1/predictions", json=unique_body(), timeout=30)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        responses = list(pool.map(submit, range(PARALLEL)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(202) == CAP, statuses
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) == PARALLEL - CAP, statuses
    assert all(r.json()["error"]["code"] == "too_many_pending" for r in refused)
