"""rq-dashboard at /admin/rq in headless Chromium: administrators see the live queue, others are refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import CANONICAL_BODY
from tests.e2e.conftest import api, create_admin, new_page, register, screenshot, sign_in, unique_name, wait_terminal

pytestmark = pytest.mark.e2e


def watch_for_script_failures(page: Page) -> list[str]:
    """Collect uncaught script errors and CSP refusals (a blocked dashboard shows nothing, silently)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    return problems


def test_an_admin_sees_queues_and_workers_and_other_people_are_refused(browser, page: Page, stack):
    queue_name = stack.env["QUEUE_NAME"]
    page.goto("/admin/rq/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    key = register(page, unique_name("nadia"))
    submitted = api(stack, key, "POST", "/v1/predictions", json=CANONICAL_BODY)  # the queue exists once used
    assert wait_terminal(stack, key, submitted.headers["Location"])["status"] == "succeeded"
    refused = page.goto("/admin/rq/")
    assert refused.status == 403
    assert queue_name not in page.content()
    screenshot(page, "16-rq-dashboard-refused")

    admin_name = unique_name("ops")
    create_admin(stack, admin_name)
    admin = new_page(browser, stack)
    problems = watch_for_script_failures(admin)
    sign_in(admin, admin_name)
    admin.goto("/admin/rq/")
    expect(admin.get_by_role("heading", name="Queues")).to_be_visible()
    expect(admin.locator("#queues tbody")).to_contain_text(queue_name)  # rendered by its script from queues.json
    screenshot(admin, "17-rq-dashboard-queues")
    admin.goto("/admin/rq/0/view/workers")
    expect(admin.locator("#workers tbody tr[data-role=worker]", has_text=queue_name).first).to_be_visible()
    screenshot(admin, "18-rq-dashboard-workers")
    assert problems == []
    admin.context.close()
