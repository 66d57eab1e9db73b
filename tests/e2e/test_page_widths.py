"""No page scrolls sideways: every page of the app at phone (390 px) and desktop (1280 px) width.

PAGES below is the one list of pages; a new page is one more `Visit` line. A visit is a path
(placeholders are filled from the `site` fixture: a person with a key and a finished
prediction, and an administrator) or, for pages that answer a form, a function that gets there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import CANONICAL_BODY
from tests.e2e.conftest import api, create_admin, new_page, register, screenshot, sign_in, unique_name, wait_terminal
from tests.stack import Stack

pytestmark = pytest.mark.e2e
WIDTHS = {"phone": 390, "desktop": 1280}


def _create_key(page: Page) -> None:
    page.goto("/account")
    page.get_by_label("Key name").fill("a key with a rather long name for a phone")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_test_id("new-key")).to_be_visible()


def _register_with_errors(page: Page) -> None:
    page.goto("/register")
    page.get_by_label("Username").fill("x" * 40)
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat password").fill("other")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-error")).to_be_visible()


def _key_form_with_errors(page: Page) -> None:
    page.goto("/account")
    page.get_by_label("Expires on (optional)").fill("2001-01-01")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#expires_on-error")).to_be_visible()


@dataclass(frozen=True)
class Visit:
    """One page: how to reach it, as whom, and what it answers."""

    name: str
    path: str | Callable[[Page], None]
    who: str = "visitor"  # visitor, user (the person of `site`) or admin
    status: int = 200
    ready: str | None = None  # a selector that shows the page is rendered (pages built by scripts)
    fits: tuple[str, ...] = ()  # elements that must fit their box too (not merely scroll inside it)


PAGES = [
    Visit("landing", "/"),
    Visit("register", "/register"),
    Visit("register-errors", _register_with_errors),
    Visit("login", "/login"),
    Visit("forgot-password", "/forgot-password"),
    Visit("privacy", "/privacy"),
    Visit("reset-link-unknown", "/reset-password/no-such-token", status=404),
    Visit("not-found", "/no-such-page", status=404),
    Visit("docs", "/docs", ready=".opblock"),
    Visit("docs-guide", "/docs/guide"),
    Visit("key-created", _create_key, "user"),
    Visit("account", "/account", "user", fits=("[data-testid=keys]",)),
    Visit("account-key-errors", _key_form_with_errors, "user"),
    Visit("confirm-revoke", "/account/keys/{key_id}/revoke", "user"),
    Visit("confirm-rotate", "/account/keys/{key_id}/rotate", "user"),
    Visit("prediction", "/account/predictions/{prediction_id}", "user"),
    Visit("prediction-not-found", "/account/predictions/01ARZ3NDEKTSV4RRFFQ69G5FAV", "user", status=404),
    Visit("usage", "/account/usage", "user"),
    Visit("predictions", "/account/predictions", "user"),
    Visit("two-factor", "/account/two-factor", "user"),
    Visit("email", "/account/email", "user"),
    Visit("password", "/account/password", "user"),
    Visit("delete-account", "/account/delete", "user"),
    Visit("admin", "/admin", "admin", fits=("form.search",)),
    Visit("admin-user", "/admin/users/{user_id}", "admin"),
    Visit("rq-dashboard", "/admin/rq/", "admin", ready="#queues tbody a"),  # its script fills it
]


@pytest.fixture(scope="module")
def site(browser: Browser, stack: Stack) -> dict[str, Any]:
    """A person with a key and a finished prediction, an administrator, and both browsers' sign-ins."""
    page = new_page(browser, stack)
    username = unique_name("wide-and-narrow")
    key = register(page, username)
    submitted = api(stack, key, "POST", "/v1/predictions", json=CANONICAL_BODY)
    prediction = wait_terminal(stack, key, submitted.headers["Location"])
    _create_key(page)  # the widest rows: a long name, and a key rotated and then revoked
    for action in ("rotate", "revoke"):
        page.goto("/account")
        page.get_by_test_id("keys").locator(f"[data-testid^={action}-]").last.click()
        page.get_by_test_id(f"confirm-{action}").click()
    page.goto("/account")
    active = page.get_by_test_id("keys").locator("tbody tr", has=page.locator(".badge-active")).first
    key_id = active.get_attribute("data-testid").removeprefix("key-")
    admin_name = unique_name("wide-admin")
    create_admin(stack, admin_name)
    admin = new_page(browser, stack)
    sign_in(admin, admin_name)
    admin.goto(f"/admin?q={username}")
    user_link = admin.get_by_test_id("users").get_by_role("link", name=username).get_attribute("href")
    site = {"user": page.context.storage_state(), "admin": admin.context.storage_state(), "visitor": None,
            "key_id": key_id, "prediction_id": prediction["id"], "user_id": user_link.rsplit("/", 1)[1]}
    page.context.close()
    admin.context.close()
    return site


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("visit", PAGES, ids=[visit.name for visit in PAGES])
def test_no_page_scrolls_sideways(browser: Browser, stack: Stack, site: dict[str, Any], visit: Visit, width: int):
    page = new_page(browser, stack, viewport={"width": width, "height": 900}, storage_state=site[visit.who])
    if callable(visit.path):
        visit.path(page)
    else:
        response = page.goto(visit.path.format(**site))
        assert response.status == visit.status, f"{visit.name}: {response.status}"
    if visit.ready:
        page.wait_for_selector(visit.ready)
    screenshot(page, f"width-{width}-{visit.name}")
    document_width, viewport_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert viewport_width == width
    assert document_width <= viewport_width, f"{visit.name} is {document_width} px wide at {width} px"
    for selector in visit.fits:
        overflow = page.locator(selector).evaluate("element => element.scrollWidth - element.parentElement.clientWidth")
        assert overflow <= 0, f"{selector} on {visit.name} is {overflow} px too wide for its box at {width} px"
    page.context.close()
