"""The API reference at /docs: rendered offline from our OpenAPI document, and "try it" with your key."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import register, screenshot, unique_name

pytestmark = pytest.mark.e2e


def test_docs_render_offline_and_try_it_uses_the_visitors_key(page, stack):
    key = register(page, unique_name("docs"))
    outside_requests: list[str] = []
    page.on("request", lambda request: outside_requests.append(request.url)
            if not request.url.startswith(stack.base_url) else None)
    page.goto("/")
    page.get_by_role("link", name="API docs").click()
    page.wait_for_selector(".opblock")
    document = requests.get(f"{stack.base_url}/v1/openapi.json", timeout=10).json()
    assert page.locator(".opblock").count() == sum(len(item) for item in document["paths"].values())
    screenshot(page, "docs")

    page.locator(".auth-wrapper button.authorize").click()
    bearer = page.locator(".dialog-ux .auth-container").first
    bearer.locator("input").fill(key)
    bearer.locator("button.authorize").click()
    page.locator(".dialog-ux button.btn-done").first.click()
    operation = page.locator("#operations-account-getMe")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip().startswith("200")
    assert "\"username\"" in operation.locator(".live-responses-table tbody .response-col_description").first.inner_text()
    screenshot(page, "docs-try-it")
    assert outside_requests == []
