"""Usage charts and the predictions list in headless Chromium, at desktop and phone width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import CANONICAL_BODY
from tests.e2e.conftest import SCREENSHOTS, api, new_page, register, screenshot, sign_in, unique_name, wait_terminal

pytestmark = pytest.mark.e2e
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def assert_no_sideways_scroll(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} scrolls sideways at {width} px ({scroll_width} px wide)"


def assert_charts_drawn(page: Page) -> None:
    for name in ("requests", "statuses", "latency"):
        chart = page.get_by_test_id(f"chart-{name}")
        svg = chart.locator("svg[role=img]")
        expect(svg).to_be_visible()
        assert svg.bounding_box()["width"] >= 280, f"the {name} chart is too small to read"
        expect(svg.locator("title").first).not_to_be_empty()
        assert svg.locator("rect").count() >= 1, f"the {name} chart has no bars"
        expect(page.get_by_test_id(f"table-{name}")).to_be_attached()
        expect(page.get_by_test_id(f"table-{name}").locator("tbody tr")).to_have_count(30)


@pytest.fixture(scope="module")
def account(browser, stack) -> tuple[str, str, list[str]]:
    """An account whose key ran three predictions: username, key, prediction ids."""
    page = new_page(browser, stack)
    username = unique_name("usage")
    key = register(page, username)
    page.context.close()
    ids = []
    for _ in range(3):
        submitted = api(stack, key, "POST", "/v1/predictions", json=CANONICAL_BODY)
        assert submitted.status_code == 202, submitted.text
        ids.append(wait_terminal(stack, key, submitted.headers["Location"])["id"])
    return username, key, ids


@pytest.mark.parametrize(("options", "width", "name"), [(DESKTOP, 1280, "desktop"), (PHONE, 390, "phone")])
def test_usage_charts_and_tables_render_and_fit(browser, stack, account, options, width, name):
    username, _, _ = account
    page = new_page(browser, stack, **options)
    sign_in(page, username)
    page.get_by_test_id("usage-history-link").click()
    expect(page).to_have_url(re.compile(r"/account/usage$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage, last 30 days")
    assert_charts_drawn(page)
    expect(page.get_by_test_id("total-predictions")).to_have_text("3")
    expect(page.get_by_test_id("no-failures")).to_be_visible()
    assert_no_sideways_scroll(page, width)
    screenshot(page, f"40-usage-{name}")
    page.get_by_test_id("chart-latency").screenshot(path=str(SCREENSHOTS / f"40-usage-latency-chart-{name}.png"))
    page.get_by_text("Latency per day as a table").click()
    expect(page.get_by_test_id("table-latency")).to_be_visible()
    assert_no_sideways_scroll(page, width)
    page.get_by_test_id("table-latency").scroll_into_view_if_needed()
    screenshot(page, f"41-usage-latency-table-{name}")

    page.goto("/account/predictions")
    expect(page.get_by_test_id("predictions").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("predictions")).to_contain_text(re.compile(r"\d\d:\d\d:\d\d UTC"))
    assert_no_sideways_scroll(page, width)
    screenshot(page, f"42-predictions-{name}")
    page.goto("/account")
    assert_no_sideways_scroll(page, width)
    page.context.close()


def test_key_selector_and_status_filter_work_without_javascript(browser, stack, account):
    username, _, ids = account
    page = new_page(browser, stack, java_script_enabled=False, **PHONE)
    sign_in(page, username)
    page.goto("/account/usage")
    key_id = page.locator("#key-filter option", has_text="default · pxk_").get_attribute("value")
    page.get_by_label("Show").select_option(key_id)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"/account/usage\?key={key_id}$"))
    expect(page.get_by_test_id("usage-scope")).to_contain_text("Key default")
    expect(page.get_by_test_id("total-predictions")).to_have_text("3")
    assert_charts_drawn(page)
    screenshot(page, "43-usage-one-key-phone-no-js")

    page.goto("/account")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/account/predictions\?status=failed$"))
    expect(page.get_by_test_id("no-predictions")).to_have_text("No failed predictions.")
    page.get_by_label("Status").select_option("succeeded")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("predictions").locator("tbody tr")).to_have_count(3)
    page.get_by_role("link", name=ids[0]).click()
    expect(page).to_have_url(re.compile(rf"/account/predictions/{ids[0]}$"))
    page.context.close()
