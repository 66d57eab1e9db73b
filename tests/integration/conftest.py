"""A real stack per module: simulator, waitress and two RQ worker processes on a real Redis."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, csrf_token
from tests.databases import DATABASE_KINDS, temporary_database
from tests.stack import SIMULATOR_KEY, Stack

pytestmark = pytest.mark.integration
TERMINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    """The running stack, on SQLite and on PostgreSQL; logs are printed if it fails to start."""
    workdir = Path(tmp_path_factory.mktemp("stack"))
    with temporary_database(request.param, workdir) as database_url, \
            Stack(workdir, redis_url, database_url=database_url) as running:
        yield running


def register_over_http(base_url: str, username: str, password: str = PASSWORD) -> tuple[requests.Session, str]:
    """Register through the real form; returns the signed-in browser session and the shown key."""
    browser = requests.Session()
    page = browser.get(f"{base_url}/register", timeout=10)
    response = browser.post(
        f"{base_url}/register",
        data={"username": username, "password": password, "confirm": password, "csrf_token": csrf_token(page.text)},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    match = re.search(r'data-testid="new-key">(pxk_[0-9A-Za-z]+)<', response.text)
    assert match, "the key is not shown after registration"
    return browser, match.group(1)


def wait_terminal(api: requests.Session, url: str, timeout: float = 30.0) -> dict:
    """Poll a prediction until it is terminal, honouring Retry-After loosely."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(url, timeout=10).json()
        if body["status"] in TERMINAL:
            return body
        time.sleep(0.1)
    raise AssertionError(f"prediction still {body['status']} after {timeout} s")


def simulator(stack: Stack, method: str, path: str, **kwargs) -> requests.Response:
    """Call the simulator's control API."""
    return requests.request(method, f"{stack.simulator_url}{path}",
                            headers={"Authorization": f"Token {SIMULATOR_KEY}"}, timeout=10, **kwargs)


def webhook_secret(browser: requests.Session, base_url: str) -> str:
    """The signing secret shown on the account page."""
    page = browser.get(f"{base_url}/account", timeout=10).text
    match = re.search(r'data-testid="webhook-secret">(whsec_[^<]+)<', page)
    assert match, "no webhook secret on the account page"
    return match.group(1)
