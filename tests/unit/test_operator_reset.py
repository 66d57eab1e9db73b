"""The operator's ways back into an account: `flask users reset-password` and the admin page's reset actions."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from proxyapp.extensions import db
from proxyapp.models import AuditEvent, User, UserSession
from proxyapp.services.accounts.passwords import verify_password
from tests.conftest import PASSWORD, invoke, isolated_env
from tests.mailbox import Mailbox, link_in
from tests.recovery_helpers import confirm_email, queued_mail_jobs, run_mail_jobs
from tests.webforms import sign_in, submit

NEW_PASSWORD = "violet tractor orbits quietly"
PUBLIC = "https://proxy.example.org"


def audit_rows(app) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        return [(row.actor_username, row.action, row.target_username) for row in rows]


def sessions_of(app, user_id: int) -> int:
    with app.app_context():
        return len(db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)).all())


def use_link(client, link: str, password: str = NEW_PASSWORD):
    path = link.removeprefix(PUBLIC)
    return submit(client, path, {"new_password": password, "confirm": password})


class TestCommand:
    @pytest.fixture
    def app_env(self, tmp_path, redis_url):
        return isolated_env(tmp_path, redis_url, PUBLIC_URL=PUBLIC)

    def test_sets_the_password_ends_every_session_and_is_audited(self, app, client, accounts):
        user_id, _ = accounts.create("ada")
        sign_in(client, "ada")
        result = invoke(app, "users", "reset-password", "ADA", "--password-stdin", input=f"{NEW_PASSWORD}\n")
        assert result.exit_code == 0, result.output
        assert "every session of the account has ended" in result.output and NEW_PASSWORD not in result.output
        assert client.get("/account").status_code == 302 and sessions_of(app, user_id) == 0
        with app.app_context():
            assert verify_password(db.session.get(User, user_id).password_hash, NEW_PASSWORD)
        assert audit_rows(app) == [("cli", "user.password_set", "ada")]

    def test_prompts_twice_without_echo(self, app, accounts):
        accounts.create("ada")
        result = invoke(app, "users", "reset-password", "ada", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
        assert result.exit_code == 0 and NEW_PASSWORD not in result.output

    @pytest.mark.parametrize(("password", "message"), [("short", "at least 8"), ("password123", "too common"),
                                                       ("ada", "at least 8")])
    def test_refuses_a_weak_password_and_changes_nothing(self, app, accounts, password, message):
        user_id, _ = accounts.create("ada")
        result = invoke(app, "users", "reset-password", "ada", "--password-stdin", input=f"{password}\n")
        assert result.exit_code == 1 and message in result.output
        with app.app_context():
            assert verify_password(db.session.get(User, user_id).password_hash, PASSWORD)
        assert audit_rows(app) == []

    def test_an_unknown_account_is_an_error(self, app):
        result = invoke(app, "users", "reset-password", "nobody", "--password-stdin", input=f"{NEW_PASSWORD}\n")
        assert result.exit_code == 1 and "no account named 'nobody'" in result.output

    def test_link_prints_a_one_time_link_under_public_url(self, app, client, accounts):
        accounts.create("ada")
        result = invoke(app, "users", "reset-password", "ada", "--link")
        assert result.exit_code == 0, result.output
        link = result.output.strip()
        assert re.fullmatch(rf"{re.escape(PUBLIC)}/reset-password/[A-Za-z0-9_-]{{43}}", link)
        assert audit_rows(app) == [("cli", "user.password_reset_link", "ada")]
        assert use_link(client, link).status_code == 302
        assert client.get(link.removeprefix(PUBLIC)).status_code == 410


def test_link_needs_public_url(app, accounts):
    accounts.create("ada")
    result = invoke(app, "users", "reset-password", "ada", "--link")
    assert result.exit_code == 1 and "set PUBLIC_URL" in result.output


class TestAdminPage:
    @pytest.fixture
    def mailbox(self):
        with Mailbox() as box:
            yield box

    @pytest.fixture
    def app_env(self, tmp_path, redis_url, mailbox):
        return isolated_env(tmp_path, redis_url, SMTP_URL=mailbox.url, MAIL_FROM="noreply@proxy.example.org",
                         PUBLIC_URL=PUBLIC)

    def test_make_a_reset_link_shows_it_once_and_audits_it(self, app, admin_client, accounts):
        user_id, _ = accounts.create("ada")
        page = admin_client.get(f"/admin/users/{user_id}").get_data(as_text=True)
        assert "Make a reset link" in page and "Mail a reset link" not in page  # no confirmed email yet
        response = submit(admin_client, f"/admin/users/{user_id}", {}, f"/admin/users/{user_id}/reset-link")
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        link = re.search(r'data-testid="reset-link">([^<]+)<', response.get_data(as_text=True)).group(1)
        assert audit_rows(app)[-1] == ("root", "user.password_reset_link", "ada")
        person = app.test_client()
        assert use_link(person, link).status_code == 302
        assert sign_in(person, "ada", NEW_PASSWORD).headers["Location"] == "/account"

    def test_mail_a_reset_link_to_the_confirmed_email(self, app, admin_client, accounts, monkeypatch, mailbox):
        user_id, _ = accounts.create("ada")
        confirm_email(app, user_id, "ada@example.org")
        assert "Mail a reset link" in admin_client.get(f"/admin/users/{user_id}").get_data(as_text=True)
        response = submit(admin_client, f"/admin/users/{user_id}", {}, f"/admin/users/{user_id}/reset-mail")
        assert response.status_code == 302
        assert "on its way" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
        assert audit_rows(app)[-1] == ("root", "user.password_reset_mailed", "ada")
        assert run_mail_jobs(app, monkeypatch) == [True]
        assert mailbox.recipients == [["ada@example.org"]]
        assert use_link(app.test_client(), link_in(mailbox.messages[0])).status_code == 302

    def test_mail_is_refused_without_a_confirmed_email(self, app, admin_client, accounts):
        user_id, _ = accounts.create("ada")
        response = submit(admin_client, f"/admin/users/{user_id}", {}, f"/admin/users/{user_id}/reset-mail")
        assert "no confirmed email" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
        assert queued_mail_jobs(app) == [] and audit_rows(app) == [("cli", "admin.created", "root")]

    def test_non_admins_get_403(self, app, client, accounts):
        user_id, _ = accounts.create("ada")
        accounts.create("eve")
        sign_in(client, "eve")
        for action in ("reset-link", "reset-mail"):
            assert submit(client, "/account", {}, f"/admin/users/{user_id}/{action}").status_code == 403
        assert audit_rows(app) == []
