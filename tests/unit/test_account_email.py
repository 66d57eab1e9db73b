"""The account's email: changed with the current password, confirmed by a single-use mailed link."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from proxyapp.extensions import db
from proxyapp.models import AccountToken, User, utcnow
from tests.conftest import PASSWORD, isolated_env
from tests.mailbox import Mailbox, body_of, link_in
from tests.recovery_helpers import confirm_email, queued_mail_jobs, run_mail_jobs
from tests.webforms import sign_in, submit

PUBLIC = "https://proxy.example.org"


@pytest.fixture
def mailbox():
    with Mailbox() as box:
        yield box


@pytest.fixture
def app_env(tmp_path, redis_url, mailbox):
    return isolated_env(tmp_path, redis_url, SMTP_URL=mailbox.url, MAIL_FROM="noreply@proxy.example.org",
                     PUBLIC_URL=PUBLIC)


@pytest.fixture
def ada(app, client, accounts):
    user_id, _ = accounts.create("ada")
    sign_in(client, "ada")
    return user_id


def change(client, email: str, password: str = PASSWORD):
    return submit(client, "/account/email", {"email": email, "current_password": password})


def email_of(app, user_id: int) -> tuple[str | None, bool]:
    with app.app_context():
        user = db.session.get(User, user_id)
        return user.email, user.email_verified_at is not None


def verification_path(app, monkeypatch, mailbox) -> str:
    assert run_mail_jobs(app, monkeypatch)[-1] is True
    return link_in(mailbox.messages[-1]).removeprefix(PUBLIC)


def test_the_account_page_shows_the_email_unconfirmed_then_confirmed(app, client, ada, monkeypatch, mailbox):
    assert "No email on this account." in client.get("/account").get_data(as_text=True)
    response = change(client, "ada@example.org")
    assert response.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "ada@example.org" in page and ">unconfirmed<" in page and "Open the link we sent" in page
    assert email_of(app, ada) == ("ada@example.org", False)
    path = verification_path(app, monkeypatch, mailbox)
    assert mailbox.recipients == [["ada@example.org"]] and "24 hours" in body_of(mailbox.messages[0])
    assert path.startswith("/verify-email/")
    confirm_page = client.get(path)
    assert confirm_page.status_code == 200 and "ada@example.org" in confirm_page.get_data(as_text=True)
    assert email_of(app, ada) == ("ada@example.org", False)  # opening the link (a mail scanner) confirms nothing
    assert submit(client, path, {}).headers["Location"] == "/account"
    assert email_of(app, ada) == ("ada@example.org", True)
    assert ">confirmed<" in client.get("/account").get_data(as_text=True)
    assert client.get(path).status_code == 410  # single use


def test_the_link_works_from_a_browser_that_is_not_signed_in(app, client, ada, monkeypatch, mailbox):
    change(client, "ada@example.org")
    path = verification_path(app, monkeypatch, mailbox)
    assert submit(app.test_client(), path, {}).headers["Location"] == "/login"
    assert email_of(app, ada) == ("ada@example.org", True)


def test_a_wrong_password_changes_nothing_and_counts_as_a_failure(app, client, ada):
    confirm_email(app, ada, "old@example.org")
    response = change(client, "new@example.org", "not my password")
    assert response.status_code == 422 and "The password is wrong." in response.get_data(as_text=True)
    assert email_of(app, ada) == ("old@example.org", True) and queued_mail_jobs(app) == []
    limit = int(app.config["LOGIN_RATE_LIMIT"].split("/")[0])
    for _ in range(limit - 1):
        change(client, "new@example.org", "not my password")
    assert change(client, "new@example.org").status_code == 429


@pytest.mark.parametrize("email", ["not-an-address", "a@b", "two@@example.org", ""])
def test_a_malformed_address_is_refused(app, client, ada, email):
    response = change(client, email)
    assert response.status_code == 422 and email_of(app, ada) == (None, False)


def test_a_changed_email_is_unconfirmed_so_reset_mail_stops_going_to_it(app, client, ada, monkeypatch, mailbox):
    confirm_email(app, ada, "old@example.org")
    change(client, "new@example.org")
    assert email_of(app, ada) == ("new@example.org", False)
    run_mail_jobs(app, monkeypatch)
    submit(app.test_client(), "/forgot-password", {"username": "ada"})
    assert run_mail_jobs(app, monkeypatch) == [0]  # no reset mail to an unconfirmed address


def test_a_link_for_an_address_changed_since_is_out_of_date(app, client, ada, monkeypatch, mailbox):
    change(client, "first@example.org")
    first = verification_path(app, monkeypatch, mailbox)
    change(client, "second@example.org")
    response = client.get(first)
    assert response.status_code == 410 and "out of date" in response.get_data(as_text=True)
    assert email_of(app, ada) == ("second@example.org", False)


def test_a_verification_job_for_an_address_changed_since_sends_nothing(app, client, ada, monkeypatch, mailbox):
    change(client, "first@example.org")
    change(client, "second@example.org")
    assert run_mail_jobs(app, monkeypatch) == [False, True]
    assert mailbox.recipients == [["second@example.org"]]


def test_an_expired_or_unknown_verification_link_is_refused(app, client, ada, monkeypatch, mailbox):
    change(client, "ada@example.org")
    path = verification_path(app, monkeypatch, mailbox)
    with app.app_context():
        db.session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert "This link has expired" in client.get(path).get_data(as_text=True)
    assert client.get("/verify-email/not-a-token").status_code == 404


def test_send_a_new_confirmation_link(app, client, ada, monkeypatch, mailbox):
    change(client, "ada@example.org")
    run_mail_jobs(app, monkeypatch)
    page = client.get("/account").get_data(as_text=True)
    assert "Send a new confirmation link" in page
    response = submit(client, "/account", {}, "/account/email/verify")
    assert "on its way" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert run_mail_jobs(app, monkeypatch) == [True] and len(mailbox.messages) == 2


def test_registration_with_an_email_sends_its_confirmation_link(app, client, monkeypatch, mailbox):
    data = {"username": "grace", "email": "grace@example.org", "password": PASSWORD, "confirm": PASSWORD}
    assert submit(client, "/register", data).status_code == 200
    assert run_mail_jobs(app, monkeypatch) == [True]
    assert mailbox.recipients == [["grace@example.org"]]


class TestWithoutSmtp:
    @pytest.fixture
    def app_env(self, tmp_path, redis_url):
        return isolated_env(tmp_path, redis_url)

    def test_the_email_can_change_but_no_mail_is_queued(self, app, client, ada):
        response = change(client, "ada@example.org")
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "This service sends no mail" in page and "Send a new confirmation link" not in page
        assert email_of(app, ada) == ("ada@example.org", False) and queued_mail_jobs(app) == []
