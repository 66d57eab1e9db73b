"""Admin pages and the `flask users` commands: access, search, paging, disable, limits, audit."""

from __future__ import annotations

import pytest

from proxyapp.extensions import db
from proxyapp.models import User
from tests.conftest import PASSWORD, audit_rows, bearer
from tests.webforms import sign_in, submit


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.query(User).filter_by(username=username).one().id


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=%2Fadmin")


def test_non_admins_get_403_on_every_admin_page(app, client, accounts):
    target_id, _ = accounts.create("bob")
    accounts.create("ada")
    sign_in(client, "ada")
    assert client.get("/admin").status_code == 403
    assert client.get(f"/admin/users/{target_id}").status_code == 403
    page = client.get("/account").get_data(as_text=True)
    assert submit(client, "/account", {}, f"/admin/users/{target_id}/disable").status_code == 403
    assert 'href="/admin"' not in page
    assert audit_rows(app) == []


def test_admin_list_shows_users_and_the_nav_link(admin_client, accounts):
    accounts.create("bob")
    response = admin_client.get("/admin")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert ">bob</a>" in html and ">root</a>" in html and 'href="/admin"' in html


def test_admin_search_and_pagination(app, admin_client, accounts):
    for index in range(27):
        accounts.create(f"patient-{index:02d}")
    accounts.create("zed")
    first = admin_client.get("/admin").get_data(as_text=True)
    assert "Page 1 of 2" in first and ">patient-00</a>" in first and ">zed</a>" not in first
    second = admin_client.get("/admin?page=2").get_data(as_text=True)
    assert ">zed</a>" in second and ">patient-00</a>" not in second
    found = admin_client.get("/admin?q=ZE").get_data(as_text=True)
    assert ">zed</a>" in found and ">patient-01</a>" not in found and "Page 1 of" not in found
    assert "No accounts match" in admin_client.get("/admin?q=%25").get_data(as_text=True)  # % is literal


def test_disable_then_enable_an_account(app, admin_client, client, accounts):
    bob_id, bob_key = accounts.create("bob")
    response = submit(admin_client, f"/admin/users/{bob_id}", {}, f"/admin/users/{bob_id}/disable")
    assert response.status_code == 302
    forbidden = admin_client.get("/v1/me", headers=bearer(bob_key))
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "forbidden"
    bob = app.test_client()
    assert sign_in(bob, "bob").status_code == 422
    assert submit(admin_client, f"/admin/users/{bob_id}", {}, f"/admin/users/{bob_id}/enable").status_code == 302
    assert admin_client.get("/v1/me", headers=bearer(bob_key)).status_code == 200
    assert sign_in(bob, "bob").status_code == 302
    assert [row[:3] for row in audit_rows(app)] == [
        ("cli", "admin.created", "root"), ("root", "user.disabled", "bob"), ("root", "user.enabled", "bob")]


def test_an_admin_cannot_disable_themselves(app, admin_client):
    root_id = user_id(app, "root")
    submit(admin_client, f"/admin/users/{root_id}", {}, f"/admin/users/{root_id}/disable")
    assert "cannot disable or enable your own account" in admin_client.get(f"/admin/users/{root_id}").get_data(
        as_text=True)
    assert admin_client.get("/admin").status_code == 200


def test_set_limits_is_applied_and_audited(app, admin_client, accounts):
    bob_id, bob_key = accounts.create("bob")
    page = f"/admin/users/{bob_id}"
    response = submit(admin_client, page, {"rate_limit": "7/minute", "max_pending": "3"}, f"{page}/limits")
    assert response.status_code == 302
    me = admin_client.get("/v1/me", headers=bearer(bob_key)).get_json()
    assert me["limits"]["rate_limit"] == "7/minute" and me["limits"]["max_pending"] == 3
    submit(admin_client, page, {"rate_limit": "", "max_pending": ""}, f"{page}/limits")
    with app.app_context():
        bob = db.session.get(User, bob_id)
        assert (bob.rate_limit, bob.max_pending) == (None, None)
    changes = [row for row in audit_rows(app) if row[1] == "user.limits_changed"]
    assert changes[0][3] == {"rate_limit": {"from": None, "to": "7/minute"}, "max_pending": {"from": None, "to": 3}}
    assert changes[1][3] == {"rate_limit": {"from": "7/minute", "to": None}, "max_pending": {"from": 3, "to": None}}
    html = admin_client.get("/admin").get_data(as_text=True)
    assert "user.limits_changed" in html and "7/minute → default" in html


@pytest.mark.parametrize(("data", "field"), [({"rate_limit": "lots"}, "rate_limit"),
                                             ({"max_pending": "-1"}, "max_pending"),
                                             ({"max_pending": "many"}, "max_pending")])
def test_invalid_limits_are_refused_beside_the_field(app, admin_client, accounts, data, field):
    bob_id, _ = accounts.create("bob")
    page = f"/admin/users/{bob_id}"
    response = submit(admin_client, page, data, f"{page}/limits")
    assert response.status_code == 422 and f'id="{field}-error"' in response.get_data(as_text=True)
    assert [row for row in audit_rows(app) if row[1] == "user.limits_changed"] == []


def test_admin_actions_need_csrf_and_unknown_users_are_404(admin_client, accounts):
    bob_id, _ = accounts.create("bob")
    assert admin_client.post(f"/admin/users/{bob_id}/disable").status_code == 400
    assert admin_client.get("/admin/users/999999").status_code == 404


class TestCreateAdminCommand:
    """`flask users create-admin NAME`, prompting or reading --password-stdin."""

    def test_prompts_for_the_password_twice(self, app):
        result = app.test_cli_runner().invoke(args=["users", "create-admin", "Root"], input=f"{PASSWORD}\n{PASSWORD}\n")
        assert result.exit_code == 0, result.output
        assert "Created administrator root." in result.output and PASSWORD not in result.output
        self.assert_admin(app, "root")

    def test_reads_the_password_from_stdin(self, app, client):
        result = app.test_cli_runner().invoke(args=["users", "create-admin", "ops", "--password-stdin"],
                                              input=f"{PASSWORD}\n")
        assert result.exit_code == 0, result.output
        self.assert_admin(app, "ops")
        sign_in(client, "ops")
        assert client.get("/admin").status_code == 200
        assert audit_rows(app) == [("cli", "admin.created", "ops", None)]

    @pytest.mark.parametrize(("username", "password", "message"), [
        ("ops", "short", "at least 8"),
        ("x", PASSWORD, "between 3 and 32"),
        ("bad name", PASSWORD, "letters, digits"),
    ])
    def test_refuses_bad_credentials(self, app, username, password, message):
        result = app.test_cli_runner().invoke(args=["users", "create-admin", username, "--password-stdin"],
                                              input=f"{password}\n")
        assert result.exit_code == 1 and message in result.output
        with app.app_context():
            assert db.session.query(User).count() == 0

    def test_refuses_a_taken_username(self, app, accounts):
        accounts.create("ops")
        result = app.test_cli_runner().invoke(args=["users", "create-admin", "OPS", "--password-stdin"],
                                              input=f"{PASSWORD}\n")
        assert result.exit_code == 1 and "taken" in result.output

    def test_mismatched_prompts_ask_again(self, app):
        result = app.test_cli_runner().invoke(args=["users", "create-admin", "root"],
                                              input=f"{PASSWORD}\nsomething else\n")
        assert result.exit_code != 0
        with app.app_context():
            assert db.session.query(User).count() == 0

    @staticmethod
    def assert_admin(app, username: str) -> None:
        with app.app_context():
            user = db.session.query(User).filter_by(username=username).one()
            assert user.is_admin and user.api_keys == []
