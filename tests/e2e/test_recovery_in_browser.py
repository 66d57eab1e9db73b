"""Account recovery and the session list in headless Chromium, against a stack that mails through a real
SMTP server (aiosmtpd, started here): the mail the worker sends is read back and its link used."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from devtools.embedded_redis import EmbeddedRedis
from proxyapp.models import utcnow
from tests.conftest import PASSWORD
from tests.e2e.conftest import SCREENSHOTS, new_page, screenshot, sign_in, unique_name
from tests.mailbox import Mailbox, link_in
from tests.stack import Stack

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "violet tractor orbits quietly"
WIDTHS = {"desktop": {"viewport": {"width": 1280, "height": 900}},
          "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                    "device_scale_factor": 2}}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """The SMTP server the stack mails through (it requires the credentials in SMTP_URL)."""
    with Mailbox("proxy-mailer", "mail-secret") as box:
        yield box


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Stack]:
    """A stack of its own whose worker sends mail to `mailbox`; links are built from PUBLIC_URL."""
    env = {"SMTP_URL": mailbox.url, "MAIL_FROM": "Proxy <noreply@proxy.test>", "LOGIN_RATE_LIMIT": "1000/minute",
           "REGISTER_RATE_LIMIT": "1000/hour", "FORGOT_PASSWORD_RATE_LIMIT": "1000/hour"}
    with EmbeddedRedis() as redis_url:
        running = Stack(Path(tmp_path_factory.mktemp("e2e-recovery")), redis_url, workers=1, env=env)
        running.env["PUBLIC_URL"] = running.base_url
        with running:
            yield running


def screenshot_path(name: str) -> Path:
    """Where a screenshot of one part of a page goes (beside the full-page ones)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def browser_at(browser: Browser, stack: Stack, width: str) -> Page:
    return new_page(browser, stack, **WIDTHS[width])


def assert_no_sideways_scroll(page: Page) -> None:
    scroll, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= viewport, f"{page.url} scrolls sideways ({scroll} > {viewport} px)"


def register_with_email(page: Page, username: str, email: str) -> None:
    page.goto("/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email (optional)").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("link", name="I have saved my key").click()


def next_mail_link(mailbox: Mailbox, stack: Stack, count: int, recipient: str) -> str:
    message = mailbox.wait_for(count)[count - 1]
    assert mailbox.recipients[count - 1] == [recipient] and mailbox.authenticated[count - 1]
    link = link_in(message)
    assert link.startswith(stack.base_url + "/"), link
    return link


def expire_reset_links(stack: Stack) -> None:
    """Move every reset link's expiry into the past, in the stack's database."""
    engine = create_engine(stack.env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE account_tokens SET expires_at = :past WHERE purpose = 'password_reset'"),
                           {"past": (utcnow() - timedelta(minutes=1)).replace(tzinfo=None)})
    engine.dispose()


@pytest.mark.parametrize("width", WIDTHS)
def test_forgot_password_by_mail_ends_old_sessions_and_the_link_works_once(browser, stack, mailbox, width):
    username, email = unique_name("ada"), f"{unique_name('ada')}@clinic.test"
    sent_before = len(mailbox.messages)
    person, other = browser_at(browser, stack, width), browser_at(browser, stack, width)
    register_with_email(person, username, email)
    expect(person.get_by_test_id("email-status")).to_have_text("unconfirmed")
    person.goto(next_mail_link(mailbox, stack, sent_before + 1, email))
    person.get_by_role("button", name="Confirm this email").click()
    expect(person.get_by_test_id("email-status")).to_have_text("confirmed")
    sign_in(other, username)
    expect(other).to_have_url(re.compile(r"/account$"))

    person.get_by_test_id("sign-out").click()
    person.goto("/login")
    person.get_by_test_id("forgot-password-link").click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Forgot your password?")
    assert_no_sideways_scroll(person)
    screenshot(person, f"recovery-forgot-{width}")
    person.get_by_label("Username or email").fill(email.upper())
    person.get_by_role("button", name="Send reset link").click()
    expect(person.get_by_test_id("reset-requested")).to_contain_text("on its way")
    screenshot(person, f"recovery-forgot-sent-{width}")

    link = next_mail_link(mailbox, stack, sent_before + 2, email)
    person.goto(link)
    expect(person.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    person.get_by_label("New password", exact=True).fill("password123")
    person.get_by_label("Repeat new password").fill("password123")
    person.get_by_role("button", name="Set new password").click()
    expect(person.locator("#new_password-error")).to_contain_text("too common")
    assert_no_sideways_scroll(person)
    screenshot(person, f"recovery-reset-{width}")
    person.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    person.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    person.get_by_role("button", name="Set new password").click()
    expect(person).to_have_url(re.compile(r"/login$"))
    expect(person.get_by_text("every session of the account is signed out")).to_be_visible()

    other.reload()
    expect(other).to_have_url(re.compile(r"/login"))  # the session from before the reset is gone
    person.goto(link)
    expect(person.get_by_role("heading", level=1)).to_have_text("This link was already used")
    screenshot(person, f"recovery-link-used-{width}")
    sign_in(person, username, NEW_PASSWORD)
    expect(person).to_have_url(re.compile(r"/account$"))
    logs = stack.logs()  # web, worker and scheduler: neither the address nor the token is written down
    assert email not in logs and email.upper() not in logs and link.rsplit("/", 1)[1] not in logs
    person.context.close()
    other.context.close()


def test_an_expired_reset_link_is_refused(browser, stack, mailbox):
    username, email = unique_name("lin"), f"{unique_name('lin')}@clinic.test"
    sent_before = len(mailbox.messages)
    page = browser_at(browser, stack, "phone")
    register_with_email(page, username, email)
    page.goto(next_mail_link(mailbox, stack, sent_before + 1, email))
    page.get_by_role("button", name="Confirm this email").click()
    page.goto("/forgot-password")
    page.get_by_label("Username or email").fill(username)
    page.get_by_role("button", name="Send reset link").click()
    link = next_mail_link(mailbox, stack, sent_before + 2, email)
    expire_reset_links(stack)
    response = page.goto(link)
    assert response is not None and response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    assert_no_sideways_scroll(page)
    screenshot(page, "recovery-link-expired-phone")
    page.get_by_role("link", name="Ask for a new link").click()
    expect(page).to_have_url(re.compile(r"/forgot-password$"))
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_one_browser_ends_the_others_session(browser, stack, width):
    username = unique_name("kim")
    first, second = browser_at(browser, stack, width), browser_at(browser, stack, width)
    first.goto("/register")
    first.get_by_label("Username").fill(username)
    first.get_by_label("Password", exact=True).fill(PASSWORD)
    first.get_by_label("Repeat password").fill(PASSWORD)
    first.get_by_role("button", name="Create account").click()
    sign_in(second, username)
    expect(second).to_have_url(re.compile(r"/account$"))

    first.goto("/account")
    sessions = first.locator("section", has=first.get_by_test_id("sessions"))
    rows = first.get_by_test_id("sessions").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(first.get_by_test_id("this-session")).to_have_count(1)
    expect(rows.filter(has=first.get_by_test_id("this-session"))).to_contain_text("127.0.0.1")
    assert_no_sideways_scroll(first)
    sessions.scroll_into_view_if_needed()
    sessions.screenshot(path=str(screenshot_path(f"account-sessions-{width}")))
    other = rows.filter(has_not=first.get_by_test_id("this-session"))
    other.get_by_role("button", name="End").click()
    expect(first.get_by_text("that browser is signed out")).to_be_visible()
    expect(first.get_by_test_id("sessions").locator("tbody tr")).to_have_count(1)

    second.reload()
    expect(second).to_have_url(re.compile(r"/login"))
    expect(second.get_by_role("heading", level=1)).to_have_text("Sign in")
    first.reload()
    expect(first).to_have_url(re.compile(r"/account#sessions-heading$"))
    expect(first.get_by_test_id("this-session")).to_have_count(1)  # still signed in
    first.context.close()
    second.context.close()

