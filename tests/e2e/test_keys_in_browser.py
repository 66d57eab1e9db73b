"""Keys with an expiry, revoke and rotate behind a confirmation page (no JavaScript needed), and the
prediction page's raw JSON, download, submitting key and cancel, in headless Chromium."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import CANONICAL_BODY
from tests.e2e.conftest import api, new_page, register, screenshot, shown_key, unique_name, wait_terminal
from tests.stack import Stack, _signal_group

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 390, "height": 844}}


def key_row(page: Page, name: str):
    """The keys-table row (a card on a phone) of the newest key with this name."""
    return page.get_by_test_id("keys").locator("tbody tr", has_text=name).first


@contextmanager
def worker_paused(stack: Stack) -> Iterator[None]:
    """Stop the stack's worker (SIGSTOP to its process group) so a prediction stays queued."""
    worker = stack.processes["worker-0"]
    _signal_group(worker, signal.SIGSTOP)
    try:
        yield
    finally:
        _signal_group(worker, signal.SIGCONT)


def test_keys_expire_and_revoke_and_rotate_are_confirmed_without_javascript(browser: Browser, stack: Stack):
    page = new_page(browser, stack, java_script_enabled=False, **PHONE)
    register(page, unique_name("nojs"))
    page.goto("/account")
    page.get_by_label("Key name").fill("deploy")
    page.get_by_label("Expires on (optional)").fill("2001-01-01")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#expires_on-error")).to_contain_text("Choose a date after today")
    expect(page.get_by_label("Key name")).to_have_value("deploy")
    screenshot(page, "keys-phone-expiry-error")

    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    page.get_by_label("Expires on (optional)").fill(day)
    page.get_by_role("button", name="Create key").click()
    deploy = shown_key(page)
    assert api(stack, deploy).json()["key"]["expires_at"] == f"{day}T00:00:00.000Z"
    page.goto("/account")
    expect(key_row(page, "deploy")).to_contain_text(f"{day} 00:00 UTC")
    overflow = page.get_by_test_id("keys").evaluate("table => table.scrollWidth - table.parentElement.clientWidth")
    assert overflow <= 0, f"the key cards are {overflow} px too wide for a phone"
    screenshot(page, "keys-phone-account")

    key_row(page, "deploy").get_by_role("link", name="Rotate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rotate key “deploy”?")
    expect(page.get_by_test_id("confirm-key")).to_contain_text(deploy[:12])
    screenshot(page, "keys-phone-confirm-rotate")
    assert api(stack, deploy).status_code == 200  # seeing the page changed nothing
    page.get_by_role("button", name="Rotate key").click()
    replacement = shown_key(page)
    expect(page.get_by_test_id("rotation-note")).to_contain_text("keeps working")
    assert api(stack, replacement).json()["key"]["expires_at"] == f"{day}T00:00:00.000Z"

    page.goto("/account")
    key_row(page, "deploy").get_by_role("link", name="Revoke").click()
    expect(page.get_by_test_id("confirm-consequence")).to_contain_text("cannot be undone")
    screenshot(page, "keys-phone-confirm-revoke")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    assert api(stack, replacement).status_code == 200
    key_row(page, "deploy").get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status").first).to_contain_text("is revoked")
    refused = api(stack, replacement)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    page.context.close()


def test_the_prediction_page_without_javascript_downloads_the_json(browser: Browser, stack: Stack):
    page = new_page(browser, stack, java_script_enabled=False, **PHONE)
    key = register(page, unique_name("nojs-json"))
    submitted = api(stack, key, "POST", "/v1/predictions", json=CANONICAL_BODY)
    prediction = wait_terminal(stack, key, submitted.headers["Location"])
    page.goto(f"/account/predictions/{prediction['id']}")
    expect(page.get_by_test_id("copy-json")).to_be_hidden()  # copying needs the script
    expect(page.get_by_test_id("cancel-prediction")).to_have_count(0)  # finished: nothing to cancel
    with page.expect_download() as download:
        page.get_by_role("link", name="Download JSON").click()
    assert download.value.suggested_filename == f"prediction-{prediction['id']}.json"
    downloaded = json.loads(Path(download.value.path()).read_text())
    assert downloaded == api(stack, key, path=f"/v1/predictions/{prediction['id']}").json()
    page.context.close()


def test_the_prediction_page_copies_the_json_names_the_key_and_cancels(browser: Browser, page: Page, stack: Stack):
    username = unique_name("json")
    key = register(page, username)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base_url)
    with worker_paused(stack):
        submitted = api(stack, key, "POST", "/v1/predictions", json=CANONICAL_BODY)
        prediction_id = submitted.json()["id"]
        page.goto(f"/account/predictions/{prediction_id}")
        expect(page.get_by_test_id("prediction-status")).to_contain_text("queued")
        expect(page.get_by_test_id("submitting-key")).to_contain_text(f"key “default” {key[:12]}…")
        screenshot(page, "prediction-queued")
        page.get_by_role("button", name="Cancel prediction").click()
        expect(page.get_by_role("status").first).to_contain_text("The prediction is canceled.")
        expect(page.get_by_test_id("prediction-status")).to_contain_text("canceled")
        expect(page.get_by_test_id("cancel-prediction")).to_have_count(0)
    assert api(stack, key, path=f"/v1/predictions/{prediction_id}").json()["status"] == "canceled"

    page.get_by_role("button", name="Copy JSON").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied == api(stack, key, path=f"/v1/predictions/{prediction_id}").json()
    page.get_by_text("Show the JSON").click()
    expect(page.get_by_test_id("raw-json")).to_contain_text('"status": "canceled"')
    screenshot(page, "prediction-canceled-json")

    other = new_page(browser, stack)
    register(other, unique_name("not-the-owner"))
    assert other.goto(f"/account/predictions/{prediction_id}.json").status == 404
    assert other.goto(f"/account/predictions/{prediction_id}").status == 404
    other.context.close()
    owners = page.request.get(f"/account/predictions/{prediction_id}.json")  # the owner's browser's cookies
    assert owners.status == 200 and owners.json()["id"] == prediction_id
