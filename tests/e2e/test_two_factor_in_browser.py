"""Two-factor sign-in in headless Chromium at desktop and phone width, with pyotp as the authenticator app."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import new_page, register, screenshot, sign_in, unique_name

pytestmark = pytest.mark.e2e
WIDTHS = {"desktop": 1280, "phone": 390}


def assert_no_sideways_scroll(page: Page, width: int) -> None:
    """The page is no wider than the viewport."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def sign_out(page: Page) -> None:
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


@pytest.mark.parametrize("device", WIDTHS)
def test_enrol_then_sign_in_with_a_code_and_once_with_a_recovery_code(browser, stack, device):
    width = WIDTHS[device]
    page = new_page(browser, stack, viewport={"width": width, "height": 860})
    username = unique_name("tfa")
    register(page, username)
    page.goto("/account")
    page.get_by_test_id("turn-on-two-factor").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()

    qr = page.get_by_test_id("two-factor-qr").locator("svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and box["x"] + box["width"] <= width  # drawn, and on screen
    assert_no_sideways_scroll(page, width)
    screenshot(page, f"tfa-01-enrol-{device}")
    totp = pyotp.TOTP(page.get_by_test_id("two-factor-secret").inner_text().strip())
    page.get_by_label("Code from your app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()

    expect(page.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    codes = re.findall(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}",
                       page.get_by_test_id("recovery-codes").inner_text())
    assert len(codes) == 10
    assert_no_sideways_scroll(page, width)
    screenshot(page, f"tfa-02-recovery-codes-{device}")
    page.get_by_role("link", name="I have saved my codes").click()
    expect(page.get_by_test_id("recovery-codes-left")).to_contain_text("10 unused recovery codes left.")
    sign_out(page)

    sign_in(page, username)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.goto("/account")  # the password alone opens nothing
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto("/login/code")
    assert_no_sideways_scroll(page, width)
    screenshot(page, f"tfa-03-code-step-{device}")
    page.get_by_label("Authentication code").fill(totp.at(time.time() + 30))  # the next step: enrolment used this one
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    sign_out(page)

    sign_in(page, username)
    page.get_by_label("Authentication code").fill(codes[0])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_text("You signed in with a recovery code")).to_be_visible()
    expect(page.get_by_test_id("recovery-codes-left")).to_contain_text("9 unused recovery codes left.")
    assert_no_sideways_scroll(page, width)
    screenshot(page, f"tfa-04-account-{device}")
    page.context.close()
