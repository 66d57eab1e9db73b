"""A person's and an administrator's journeys in headless Chromium, checked over HTTP."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from standardwebhooks import Webhook

from tests.conftest import CANONICAL_BODY, PASSWORD
from tests.e2e.conftest import (
    ROTATION_GRACE_SECONDS,
    api,
    create_admin,
    new_page,
    register,
    screenshot,
    shown_key,
    sign_in,
    unique_name,
    wait_terminal,
)

pytestmark = pytest.mark.e2e
NEVER_CACHED = "no-store"


def key_row(page: Page, name: str):
    """The keys-table row of the newest key with this name."""
    return page.get_by_test_id("keys").locator("tbody tr", has_text=name).first


def test_register_see_the_key_once_use_it_and_see_last_used(page: Page, stack):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Predict")
    screenshot(page, "01-landing")
    page.get_by_role("link", name="Create account").first.click()
    page.get_by_label("Username").fill("e2e")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-error")).to_contain_text("at least 8")
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    screenshot(page, "02-register-errors")

    username = unique_name("ada")
    key = register(page, username)
    expect(page.get_by_role("button", name="Copy", exact=True)).to_be_visible()
    screenshot(page, "03-key-shown-once")
    assert api(stack, key).json()["account"]["username"] == username
    submitted = api(stack, key, "POST", "/v1/predictions", json=CANONICAL_BODY)
    assert submitted.status_code == 202, submitted.text
    prediction = wait_terminal(stack, key, submitted.headers["Location"])
    assert prediction["status"] == "succeeded"

    page.get_by_role("link", name="I have saved my key").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    assert key not in page.content()
    last_used = page.locator("[data-testid^=last-used-]").first
    expect(last_used).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    expect(page.get_by_test_id("predictions")).to_contain_text(prediction["id"])
    assert "E11.3551" not in page.content()  # no patient data on the list
    screenshot(page, "04-account")
    page.get_by_role("link", name=prediction["id"]).click()
    expect(page.get_by_role("heading", name="History sent")).to_be_visible()
    expect(page.locator("main")).to_contain_text("E11.3551")
    screenshot(page, "05-prediction")


def test_create_rotate_with_grace_and_revoke_keys(page: Page, stack):
    register(page, unique_name("bea"))
    page.goto("/account")
    page.get_by_label("Key name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    ci_key = shown_key(page)
    assert api(stack, ci_key).json()["key"]["name"] == "ci"
    page.goto("/account")
    expect(key_row(page, "ci")).to_contain_text("active")

    key_row(page, "ci").get_by_role("link", name="Rotate").click()
    expect(page.get_by_test_id("confirm-consequence")).to_contain_text("keeps working until")
    page.get_by_role("button", name="Rotate key").click()
    rotated_key = shown_key(page)
    rotated_at = time.monotonic()
    expect(page.get_by_test_id("rotation-note")).to_contain_text("keeps working")
    screenshot(page, "06-key-rotated")
    assert api(stack, ci_key).status_code == 200  # within the grace period
    assert api(stack, rotated_key).status_code == 200
    page.goto("/account")
    expect(page.get_by_test_id("keys")).to_contain_text("rotating")
    screenshot(page, "07-account-rotating")

    time.sleep(max(0.0, ROTATION_GRACE_SECONDS + 0.5 - (time.monotonic() - rotated_at)))
    expired = api(stack, ci_key)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "key_expired"
    assert "replaced by rotation" in expired.json()["error"]["message"]
    assert api(stack, rotated_key).status_code == 200
    page.reload()
    expect(page.get_by_test_id("keys")).to_contain_text("expired")

    key_row(page, "ci").get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status").first).to_contain_text("is revoked")
    assert api(stack, rotated_key).status_code == 401
    screenshot(page, "08-account-revoked")


def test_admin_disables_a_user_whose_keys_get_403_and_who_cannot_sign_in(browser, page: Page, stack):
    username = unique_name("cy")
    key = register(page, username)
    admin_name = unique_name("root")
    create_admin(stack, admin_name)
    admin = new_page(browser, stack)
    sign_in(admin, admin_name)
    admin.get_by_role("link", name="Admin").click()
    expect(admin.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
    screenshot(admin, "09-admin")
    admin.get_by_label("Search by username").fill(username)
    admin.get_by_role("button", name="Search").click()
    admin.get_by_test_id("users").get_by_role("link", name=username).click()
    admin.get_by_label("Rate limit").fill("7/minute")
    admin.get_by_label("Pending cap").fill("3")
    admin.get_by_role("button", name="Save limits").click()
    expect(admin.get_by_role("status").first).to_contain_text("saved")
    assert api(stack, key).json()["limits"]["rate_limit"] == "7/minute"
    admin.get_by_role("button", name="Disable account").click()
    expect(admin.get_by_role("status").first).to_contain_text("disabled")
    expect(admin.get_by_test_id("audit")).to_contain_text("user.disabled")
    screenshot(admin, "10-admin-user")

    forbidden = api(stack, key)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login"))  # the disabled person's session has ended
    sign_in(page, username)
    expect(page.locator("#password-error")).to_contain_text("disabled")
    screenshot(page, "11-login-refused")

    admin.goto("/admin")
    expect(admin.get_by_test_id("audit")).to_contain_text(username)
    admin.get_by_test_id("sign-out").click()
    expect(admin.get_by_role("status").first).to_contain_text("You are signed out.")
    admin.goto("/admin")
    expect(admin).to_have_url(re.compile(r"/login\?next="))
    screenshot(admin, "12-signed-out-sign-in")
    admin.get_by_label("Username").fill(admin_name)
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    expect(admin).to_have_url(re.compile(r"/admin$"))  # back where the sign-in started
    admin.context.close()


def test_change_password_then_delete_the_account(page: Page, stack):
    username = unique_name("dee")
    key = register(page, username)
    page.goto("/account")
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("Repeat new password").fill("a brand new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#current_password-error")).to_have_text("The password is wrong.")
    screenshot(page, "13-password-errors")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("Repeat new password").fill("a brand new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status").first).to_contain_text("password is changed")

    page.get_by_role("link", name="Delete account").click()
    screenshot(page, "14-delete-account")
    page.get_by_label("Type your username to confirm").fill(username)
    page.get_by_label("Your password").fill("a brand new passphrase")
    page.get_by_role("button", name="Delete my account and data").click()
    expect(page.get_by_role("status").first).to_contain_text("deleted")
    assert api(stack, key).status_code == 401


def test_account_pages_work_without_javascript(browser, stack):
    page = new_page(browser, stack, java_script_enabled=False)
    register(page, unique_name("eve"))
    response = page.goto("/account")
    assert response.headers["cache-control"] == NEVER_CACHED
    page.get_by_label("Key name").fill("no-js")
    page.get_by_role("button", name="Create key").click()
    shown_key(page)
    page.goto("/account")
    key_row(page, "no-js").get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(key_row(page, "no-js")).to_contain_text("revoked")
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Sign in")).to_be_visible()
    screenshot(page, "15-signed-out")
    page.context.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def test_sign_out_everywhere_ends_the_other_browsers_session_and_replayed_cookies(browser, page: Page, stack):
    username = unique_name("fay")
    register(page, username)
    phone = new_page(browser, stack, **PHONE)
    sign_in(phone, username)
    expect(phone).to_have_url(re.compile(r"/account$"))
    sessions = phone.get_by_test_id("sessions")
    expect(sessions.locator("tbody tr")).to_have_count(2)
    expect(sessions.get_by_test_id("this-session")).to_have_count(1)
    expect(phone.get_by_test_id("sign-out-everywhere")).to_be_visible()
    screenshot(phone, "16-account-sessions-phone")
    phone_width = phone.evaluate("document.documentElement.scrollWidth")
    assert phone_width <= 390, f"the account page scrolls sideways on a phone ({phone_width} px)"
    overflow = sessions.evaluate("table => table.scrollWidth - table.parentElement.clientWidth")
    assert overflow <= 0, f"the sessions table is {overflow} px too wide for a phone"

    page.goto("/account")
    expect(page.get_by_test_id("sessions")).to_contain_text("Chrome on Linux")
    page.get_by_test_id("sessions").scroll_into_view_if_needed()
    screenshot(page, "17-account-sessions-desktop")
    copied = [cookie for cookie in page.context.cookies() if cookie["name"] == "session"]
    page.get_by_test_id("sign-out-everywhere").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status").first).to_contain_text("signed out everywhere")
    screenshot(page, "18-signed-out-everywhere")

    phone.reload()
    expect(phone).to_have_url(re.compile(r"/login\?next="))  # the other browser is signed out too
    expect(phone.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(phone, "19-phone-signed-out")

    thief = new_page(browser, stack)
    thief.context.add_cookies(copied)  # a copy taken before signing out opens nothing
    thief.goto("/account")
    expect(thief).to_have_url(re.compile(r"/login\?next="))
    for other in (phone, thief):
        other.context.close()


def test_send_a_test_event_and_see_its_delivery_on_desktop_and_phone(browser, page: Page, stack, receiver):
    username = unique_name("hal")
    register(page, username)
    page.goto("/account")
    secret = page.get_by_test_id("webhook-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    page.get_by_label("Receiver URL").fill(f"{receiver.url}/from-browser")
    page.get_by_test_id("send-test-event").click()
    [hook] = receiver.wait_for("/from-browser", timeout=30)  # sent by a worker, not by the web request
    assert Webhook(secret).verify(hook.body, hook.headers)["type"] == "test"
    deliveries = page.get_by_test_id("deliveries")
    for _ in range(50):  # the worker records the answer just after the receiver saw the request
        page.goto("/account")
        if "delivered" in deliveries.inner_text():
            break
        time.sleep(0.2)
    expect(deliveries.locator("tbody tr")).to_have_count(1)
    expect(deliveries).to_contain_text("127.0.0.1")
    expect(deliveries).to_contain_text("HTTP 200")
    deliveries.scroll_into_view_if_needed()
    screenshot(page, "20-webhook-delivered-desktop")

    phone = new_page(browser, stack, **PHONE)
    sign_in(phone, username)
    phone.goto("/account")
    phone.get_by_test_id("deliveries").scroll_into_view_if_needed()
    screenshot(phone, "21-webhook-delivered-phone")
    phone_width = phone.evaluate("document.documentElement.scrollWidth")
    assert phone_width <= 390, f"the account page scrolls sideways on a phone ({phone_width} px)"
    overflow = phone.get_by_test_id("deliveries").evaluate("table => table.scrollWidth - table.parentElement.clientWidth")
    assert overflow <= 0, f"the deliveries table is {overflow} px too wide for a phone"
    phone.context.close()
