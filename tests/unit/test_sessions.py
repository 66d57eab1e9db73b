"""Signing in and out: renewal, idle and absolute timeouts, server-side sessions, cookies.

Brute-force limits are in test_login_throttle.
"""

from __future__ import annotations

from datetime import timedelta

import itsdangerous
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from config import ProductionConfig
from proxyapp import create_app
from proxyapp.extensions import db
from proxyapp.models import User, UserSession, utcnow
from proxyapp.services.accounts.lifecycle import register_user
from proxyapp.services.signin.sessions import describe_device, hash_token
from tests.conftest import PASSWORD, csrf_token, isolated_env
from tests.webforms import sign_in, sign_out, submit


@pytest.fixture
def app_env(tmp_path, redis_url):
    """A one-minute idle timeout (and cheap password hashing) for every test here."""
    return isolated_env(tmp_path, redis_url, SESSION_IDLE_MINUTES="1")


FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.4 Mobile/15E148 Safari/604.1")

EDGE_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
                "Safari/537.36 Edg/120.0")


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_sign_in_redirects_to_the_account_and_records_the_time(app, client, accounts):
    user_id, _ = accounts.create("ada")
    response = sign_in(client, "ada")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    with app.app_context():
        assert db.session.get(User, user_id).last_login_at is not None


def test_sign_in_follows_a_local_next_but_never_another_site(client, accounts):
    accounts.create("ada")
    login_page = client.get(client.get("/account").headers["Location"]).get_data(as_text=True)
    assert 'action="/login?next=/account"' in login_page  # the form carries `next` along
    local = sign_in(client, "ada", query_string={"next": "/admin"})
    assert local.headers["Location"] == "/admin"
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        assert sign_in(client, "ada", query_string={"next": target}).headers["Location"] == "/account"


def test_session_is_renewed_at_sign_in(client, accounts):
    accounts.create("ada")
    client.get("/login")
    before = session_cookie(client)
    sign_in(client, "ada")
    with client.session_transaction() as session:
        assert session["_user_id"] and session.permanent
    assert session_cookie(client) != before


def test_sign_in_without_csrf_token_is_400(client, accounts):
    accounts.create("ada")
    response = client.post("/login", data={"username": "ada", "password": PASSWORD})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert client.get("/account").status_code == 302


def test_sign_out_is_a_post_with_csrf_and_ends_the_session(client, accounts):
    accounts.create("ada")
    sign_in(client, "ada")
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/account").status_code == 200
    response = sign_out(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/account").status_code == 302
    assert "You are signed out." in client.get("/").get_data(as_text=True)


def test_disabled_account_cannot_sign_in_and_is_signed_out(app, client, accounts):
    user_id, _ = accounts.create("ada")
    sign_in(client, "ada")
    with app.app_context():
        db.session.get(User, user_id).is_disabled = True
        db.session.commit()
    assert client.get("/account").status_code == 302  # the live session ended
    response = sign_in(client, "ada")
    assert response.status_code == 422
    assert "This account is disabled." in response.get_data(as_text=True)


def test_no_remember_me_cookie(client, accounts):
    accounts.create("ada")
    response = sign_in(client, "ada")
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert client.get_cookie("remember_token") is None


def test_session_cookie_is_httponly_samesite_lax_and_not_secure_in_testing(client, accounts):
    accounts.create("ada")
    cookie = sign_in(client, "ada").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires=" in cookie  # a permanent session: it lapses after the idle timeout


def test_session_cookie_is_secure_in_production(tmp_path, redis_url, monkeypatch):
    env = isolated_env(tmp_path, redis_url, APP_ENV="production", SECRET_KEY="p" * 40,
                    UPSTREAM_URL="https://upstream.invalid", UPSTREAM_API_KEY="gh_s_k-test",
                    DATA_ENCRYPTION_KEY=Fernet.generate_key().decode())
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(ProductionConfig(env))
    with app.app_context():
        db.create_all()
        register_user("ada", PASSWORD)
    client = app.test_client()
    token = csrf_token(client.get("/login", base_url="https://localhost").get_data(as_text=True))
    # Over HTTPS Flask-WTF also checks that the form came from this site (Referer).
    response = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                           data={"username": "ada", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with app.app_context():
        db.engine.dispose()


def test_api_never_accepts_the_session_cookie(client, accounts):
    accounts.create("ada")
    sign_in(client, "ada")
    response = client.get("/v1/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


class Clock:
    """Moves the session signer's clock forward, as if time had passed between requests."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0
        real = itsdangerous.TimestampSigner.get_timestamp
        monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda signer: real(signer) + self.offset)

    def advance(self, seconds: int) -> None:
        self.offset += seconds


def test_idle_session_expires_but_activity_keeps_it_alive(client, accounts, monkeypatch):
    accounts.create("ada")
    clock = Clock(monkeypatch)
    sign_in(client, "ada")
    for _ in range(3):  # 3 × 40 s of activity: longer than the timeout, never idle for it
        clock.advance(40)
        assert client.get("/account").status_code == 200
    clock.advance(61)
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_password_change_ends_other_sessions_but_keeps_this_one(app, accounts):
    accounts.create("ada")
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "ada")
    sign_in(phone, "ada")
    new_password = "an entirely new passphrase"
    response = submit(laptop, "/account/password", {"current_password": PASSWORD, "new_password": new_password,
                                                    "confirm": new_password})
    assert response.status_code == 302
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    assert sign_in(phone, "ada").status_code == 422
    assert sign_in(phone, "ada", new_password).status_code == 302


# --- Server-side sessions: logout, absolute lifetime, sign out everywhere -------------------------


def only_session(app, user_id: int) -> UserSession:
    with app.app_context():
        return db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)).one()


def move_session_back(app, user_id: int, **ages: timedelta) -> None:
    """Make the account's sessions older, as if time had passed (created_at / last_seen_at)."""
    with app.app_context():
        for row in db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)):
            for column, age in ages.items():
                setattr(row, column, getattr(row, column) - age)
        db.session.commit()


def replay(app, cookie: str):
    """A client holding nothing but a copy of a session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def test_a_cookie_copied_before_sign_out_opens_nothing_afterwards(app, client, accounts):
    accounts.create("ada")
    sign_in(client, "ada")
    account_page = client.get("/account").get_data(as_text=True)
    copied = session_cookie(client)
    sign_out(client)
    thief = replay(app, copied)
    response = thief.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    # The copy carries the session's CSRF secret, yet creating a key needs a live session.
    created = thief.post("/account/keys", data={"name": "stolen", "csrf_token": csrf_token(account_page)})
    assert created.status_code == 302 and created.headers["Location"].startswith("/login")


def test_the_session_row_stores_only_a_hash_of_the_cookies_token(app, client, accounts):
    user_id, _ = accounts.create("ada")
    sign_in(client, "ada")
    with client.session_transaction() as session:
        token = session["_token"]
    row = only_session(app, user_id)
    assert row.token_hash == hash_token(token) and token not in row.token_hash


def test_a_signed_cookie_without_a_session_token_is_not_signed_in(app, client, accounts):
    user_id, _ = accounts.create("ada")
    with client.session_transaction() as session:  # e.g. a cookie issued before sessions had rows
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
    assert client.get("/account").status_code == 302


def test_another_accounts_token_does_not_open_this_account(app, accounts):
    ada_id, _ = accounts.create("ada")
    accounts.create("bob")
    bob = app.test_client()
    sign_in(bob, "bob")
    with bob.session_transaction() as session:
        session["_user_id"] = str(ada_id)
    assert bob.get("/account").status_code == 302


def test_a_session_ends_at_its_absolute_lifetime_however_active(app, client, accounts):
    user_id, _ = accounts.create("ada")
    sign_in(client, "ada")
    move_session_back(app, user_id, created_at=timedelta(hours=11, minutes=59))
    assert client.get("/account").status_code == 200  # active, and not yet 12 hours old
    move_session_back(app, user_id, created_at=timedelta(minutes=2))
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert sign_in(client, "ada").status_code == 302 and client.get("/account").status_code == 200


def test_a_session_idle_on_the_server_ends_even_with_a_fresh_cookie(app, client, accounts):
    user_id, _ = accounts.create("ada")
    sign_in(client, "ada")
    move_session_back(app, user_id, last_seen_at=timedelta(minutes=2, seconds=1))  # idle 1 min + 1 min of lag
    assert client.get("/account").status_code == 302


def test_last_seen_is_written_at_most_once_a_minute(app, client, accounts):
    user_id, _ = accounts.create("ada")
    sign_in(client, "ada")
    first = only_session(app, user_id).last_seen_at
    client.get("/account")
    assert only_session(app, user_id).last_seen_at == first
    move_session_back(app, user_id, last_seen_at=timedelta(seconds=61))
    client.get("/account")
    assert only_session(app, user_id).last_seen_at > first


def test_signing_in_again_clears_the_accounts_expired_sessions(app, accounts):
    user_id, _ = accounts.create("ada")
    old, new = app.test_client(), app.test_client()
    sign_in(old, "ada")
    move_session_back(app, user_id, created_at=timedelta(hours=13))
    sign_in(new, "ada")
    assert only_session(app, user_id).created_at > utcnow() - timedelta(minutes=1)


def test_the_account_page_lists_the_live_sessions_and_marks_this_one(app, accounts):
    accounts.create("ada")
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "ada", headers={"User-Agent": FIREFOX_LINUX})
    sign_in(phone, "ada", headers={"User-Agent": SAFARI_IPHONE})
    page = laptop.get("/account").get_data(as_text=True)
    assert "Firefox on Linux" in page and "Safari on iOS" in page
    assert page.count('data-testid="this-session"') == 1
    assert FIREFOX_LINUX not in page  # only the summary is kept
    assert "after 1 minute without activity, and 12 hours after signing in" in page


def test_sign_out_everywhere_ends_every_session_of_the_account_only(app, accounts):
    accounts.create("ada")
    accounts.create("bob")
    laptop, phone, bob = app.test_client(), app.test_client(), app.test_client()
    for browser, name in ((laptop, "ada"), (phone, "ada"), (bob, "bob")):
        sign_in(browser, name)
    assert laptop.post("/account/sessions/end").status_code == 400  # no CSRF token
    assert phone.get("/account").status_code == 200
    response = submit(laptop, "/account", {}, "/account/sessions/end")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "signed out everywhere" in laptop.get("/login").get_data(as_text=True)
    for browser in (laptop, phone):
        assert browser.get("/account").headers["Location"].startswith("/login")
    assert bob.get("/account").status_code == 200
    assert sign_in(phone, "ada").status_code == 302 and phone.get("/account").status_code == 200


def test_sign_out_everywhere_needs_a_session(app, client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/account/sessions/end", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(("agent", "summary"), [
    (FIREFOX_LINUX, "Firefox on Linux"), (SAFARI_IPHONE, "Safari on iOS"),
    (EDGE_WINDOWS, "Edge on Windows"),
    ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
     "Chrome on Android"),
    ("curl/8.5.0", "curl"), ("", "Unknown browser"), (None, "Unknown browser"),
])
def test_devices_are_summarised(agent, summary):
    assert describe_device(agent) == summary
