"""The operator's side in Chromium: the privacy page, /admin's system overview, revoking one key, rq-dashboard's way back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import CANONICAL_BODY
from tests.e2e.conftest import api, create_admin, new_page, register, screenshot, sign_in, unique_name, wait_terminal

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def assert_fits_a_phone(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{what} scrolls sideways on a phone ({width} px)"


def test_the_footer_leads_to_a_privacy_page_that_names_the_operator(browser, page: Page, stack):
    page.goto("/")
    expect(page.get_by_test_id("trust")).to_contain_text("Run by Clínica Norte IT")
    expect(page.get_by_test_id("trust")).to_contain_text("kept 30 days, encrypted at rest")
    page.get_by_test_id("privacy-link").click()
    expect(page).to_have_url(re.compile(r"/privacy$"))
    expect(page.get_by_role("heading", name="Privacy and patient data")).to_be_visible()
    expect(page.get_by_test_id("operator-contact")).to_have_attribute("href", "mailto:privacy@clinica-norte.example")
    expect(page.get_by_test_id("retention")).to_contain_text("kept for 30 days after the prediction finishes")
    expect(page.get_by_test_id("encryption")).to_contain_text("Fernet")
    screenshot(page, "30-privacy-desktop")

    phone = new_page(browser, stack, **PHONE)
    for path, name in (("/privacy", "31-privacy-phone"), ("/", "32-landing-phone")):
        phone.goto(path)
        assert_fits_a_phone(phone, path)
        screenshot(phone, name)
    phone.context.close()


def test_an_admin_sees_the_system_revokes_one_leaked_key_and_finds_the_way_back_from_rq_dashboard(browser, page, stack):
    owner = unique_name("lena")
    key = register(page, owner)
    submitted = api(stack, key, "POST", "/v1/predictions", json=CANONICAL_BODY)
    assert wait_terminal(stack, key, submitted.headers["Location"])["status"] == "succeeded"

    admin_name = unique_name("ops")
    create_admin(stack, admin_name)
    admin = new_page(browser, stack)
    sign_in(admin, admin_name)
    admin.goto("/admin")
    system = admin.get_by_test_id("system")
    expect(system.get_by_test_id("circuit")).to_have_text("closed")
    assert int(system.get_by_test_id("live-workers").inner_text()) >= 1
    assert int(system.get_by_test_id("last-hour-succeeded").inner_text()) >= 1
    expect(system.get_by_test_id("top-accounts")).to_contain_text(owner)
    screenshot(admin, "33-admin-overview-desktop")

    system.get_by_test_id("top-accounts").get_by_role("link", name=owner).click()
    expect(admin.get_by_role("heading", name=owner, exact=True)).to_be_visible()
    keys = admin.get_by_test_id("admin-keys")
    keys.get_by_text("Revoke…").click()  # a disclosure: nothing is revoked yet
    assert api(stack, key).status_code == 200
    keys.get_by_role("button", name="Revoke this key now").click()
    expect(admin.get_by_role("status")).to_contain_text("is revoked; it is refused from now on.")
    refused = api(stack, key)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    expect(admin.get_by_test_id("audit")).to_contain_text("key.revoked")
    screenshot(admin, "34-admin-key-revoked")

    admin.goto("/admin/rq/")
    expect(admin.get_by_test_id("finished-note")).to_contain_text("ended less than 10 minutes ago")
    row = admin.locator("#queues tbody tr", has_text=stack.env["QUEUE_NAME"])
    expect(row).to_be_visible()
    assert int(row.locator("td").nth(5).inner_text()) >= 1  # "Finished jobs": this test's prediction, at least
    screenshot(admin, "35-rq-dashboard-with-way-back")
    admin.get_by_test_id("back-to-admin").click()
    expect(admin).to_have_url(re.compile(r"/admin$"))
    admin.context.close()

    phone = new_page(browser, stack, **PHONE)
    sign_in(phone, admin_name)
    phone.goto("/admin")
    assert_fits_a_phone(phone, "/admin")
    screenshot(phone, "36-admin-overview-phone")
    phone.get_by_test_id("top-accounts").get_by_role("link", name=owner).click()
    assert_fits_a_phone(phone, "an account's admin page")
    screenshot(phone, "37-admin-user-phone")
    phone.context.close()
