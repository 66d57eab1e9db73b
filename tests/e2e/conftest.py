"""Browser tests: headless Chromium (Playwright's sync API) against a real stack.

The stack is the integration suite's (simulator, waitress, an RQ worker, Redis); the
rotation grace is a few seconds so expiry can be watched. Screenshots of every page go
to test-artifacts/screenshots/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, sync_playwright

from devtools.embedded_redis import EmbeddedRedis
from tests.conftest import CHROMIUM, PASSWORD
from tests.stack import ROOT, Stack

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
ROTATION_GRACE_SECONDS = 4
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TERMINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One running stack for the browser suite; its logs are printed if it fails to start.

    It has a Redis of its own: rq-dashboard lists every queue and worker of its Redis, and a
    shared one holds whatever other runs left there (hundreds of queues slow its pages down).
    """
    env = {
        "KEY_ROTATION_GRACE_SECONDS": str(ROTATION_GRACE_SECONDS),
        # Every browser signs in from 127.0.0.1; the limits themselves are unit-tested.
        "LOGIN_RATE_LIMIT": "1000/minute",
        "REGISTER_RATE_LIMIT": "1000/hour",
        "OPERATOR_NAME": "Clínica Norte IT",
        "OPERATOR_CONTACT": "privacy@clinica-norte.example",
    }
    with EmbeddedRedis() as redis_url, \
            Stack(Path(tmp_path_factory.mktemp("e2e")), redis_url, workers=1, env=env) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's), shared by the suite."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def new_page(browser: Browser, stack: Stack, **options: object) -> Page:
    """A page in a fresh browser context (its own cookies), like another person's browser."""
    context = browser.new_context(base_url=stack.base_url, **{"viewport": {"width": 1200, "height": 900}, **options})
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A fresh browser context's page."""
    fresh = new_page(browser, stack)
    yield fresh
    fresh.context.close()


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot as test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def unique_name(prefix: str) -> str:
    """A username no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def register(page: Page, username: str, password: str = PASSWORD) -> str:
    """Fill in the registration form; returns the key the next page shows once."""
    page.goto("/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat password").fill(password)
    page.get_by_role("button", name="Create account").click()
    return shown_key(page)


def shown_key(page: Page) -> str:
    """The key on a key-created page."""
    key = page.get_by_test_id("new-key").inner_text().strip()
    assert re.fullmatch(r"pxk_[0-9A-Za-z]{49}", key), key
    return key


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fill in the sign-in form."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def api(stack: Stack, key: str, method: str = "GET", path: str = "/v1/me", **kwargs: object) -> requests.Response:
    """Call the JSON API over HTTP with a key (and no cookies)."""
    return requests.request(method, f"{stack.base_url}{path}", headers={"Authorization": f"Bearer {key}"},
                            timeout=10, **kwargs)


def wait_terminal(stack: Stack, key: str, location: str, timeout: float = 30.0) -> dict:
    """Poll a prediction until it is finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(location, headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
        if body["status"] in TERMINAL:
            return body
        time.sleep(0.2)
    raise AssertionError(f"prediction still {body['status']} after {timeout} s")


def create_admin(stack: Stack, username: str, password: str = PASSWORD) -> None:
    """Run `flask users create-admin NAME --password-stdin` against the stack's database."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "proxyapp", "users", "create-admin", username, "--password-stdin"],
        input=f"{password}\n", cwd=ROOT, env=stack.env, capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr

