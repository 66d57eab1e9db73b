"""Brute-force limits: failed password checks per (client, username), per client, and per username.

LOGIN_RATE_LIMIT (5/minute) per client IP and username, LOGIN_IP_RATE_LIMIT (10/minute) per
client IP, LOGIN_USERNAME_RATE_LIMIT (8/hour here) per username; REGISTER_RATE_LIMIT counts
every registration.
"""

from __future__ import annotations

import pytest
from limits.errors import StorageError
from limits.strategies import MovingWindowRateLimiter

from proxyapp.extensions import db
from proxyapp.models import User
from tests.conftest import PASSWORD, isolated_env
from tests.webforms import sign_in, sign_out, submit

USERNAME_LIMIT = 8


@pytest.fixture
def app_env(tmp_path, redis_url):
    return isolated_env(tmp_path, redis_url, LOGIN_USERNAME_RATE_LIMIT=f"{USERNAME_LIMIT}/hour",
                     REGISTER_RATE_LIMIT="2/hour")


def from_ip(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def guess(client, username: str, address: str, password: str = "wrong password"):
    return sign_in(client, username, password, **from_ip(address))


def test_a_client_that_guessed_wrong_five_times_is_refused_with_the_429_page(client, accounts):
    accounts.create("ada")
    for _ in range(5):
        assert guess(client, "ada", "10.0.0.1").status_code == 422
    blocked = sign_in(client, "ADA", PASSWORD, **from_ip("10.0.0.1"))
    assert blocked.status_code == 429 and blocked.mimetype == "text/html"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 61
    page = blocked.get_data(as_text=True)
    assert "Please wait" in page and "try again" in page
    assert client.get("/account").status_code == 302  # the right password did not get through


def test_another_client_signs_in_with_the_right_password_after_someone_elses_failures(app, accounts):
    accounts.create("ada")
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(5):
        guess(attacker, "ada", "10.0.0.1")
    assert guess(attacker, "ada", "10.0.0.1", PASSWORD).status_code == 429
    assert sign_in(owner, "ada", **from_ip("10.0.0.2")).status_code == 302
    assert owner.get("/account").status_code == 200


def test_failures_spread_over_many_addresses_reach_the_per_username_limit(app, accounts):
    accounts.create("ada")
    attacker = app.test_client()
    for attempt in range(USERNAME_LIMIT):
        assert guess(attacker, "ada", f"10.0.1.{attempt}").status_code == 422
    assert guess(attacker, "ada", "10.0.1.200").status_code == 429
    fresh = app.test_client()  # a browser that never signed in to the account is held back too
    assert sign_in(fresh, "ada", **from_ip("10.0.2.1")).status_code == 429
    assert sign_in(fresh, "bob-unrelated", "wrong", **from_ip("10.0.2.1")).status_code == 422


def test_a_browser_that_signed_in_before_is_exempt_from_the_per_username_limit(app, accounts):
    accounts.create("ada")
    accounts.create("bob")
    owner = app.test_client()
    assert sign_in(owner, "ada", **from_ip("10.0.3.1")).status_code == 302
    assert owner.get_cookie("known_device") is not None
    sign_out(owner)
    attacker = app.test_client()
    for attempt in range(USERNAME_LIMIT + 1):
        guess(attacker, "ada", f"10.0.4.{attempt}")
        guess(attacker, "bob", f"10.0.4.{attempt}")
    assert sign_in(owner, "ada", **from_ip("10.0.3.1")).status_code == 302
    sign_out(owner)
    # The cookie is signed and names one account: it exempts neither another one nor a forgery.
    assert sign_in(owner, "bob", **from_ip("10.0.3.1")).status_code == 429
    forged = app.test_client()
    forged.set_cookie("known_device", "ada")
    assert sign_in(forged, "ada", **from_ip("10.0.5.2")).status_code == 429


def test_successful_sign_ins_do_not_count(app, client, accounts):
    accounts.create("ada")
    for _ in range(12):  # more than every window holds
        assert sign_in(client, "ada", **from_ip("10.0.6.1")).status_code == 302
    for _ in range(4):
        assert guess(client, "ada", "10.0.6.1").status_code == 422
    assert sign_in(client, "ada", **from_ip("10.0.6.1")).status_code == 302
    assert guess(client, "ada", "10.0.6.1").status_code == 422  # the fifth failure
    assert sign_in(client, "ada", **from_ip("10.0.6.1")).status_code == 429


def test_incomplete_forms_are_not_counted(client, accounts):
    accounts.create("ada")
    for _ in range(6):
        assert submit(client, "/login", {"username": "ada", "password": ""}, **from_ip("10.0.7.1")).status_code == 422
    assert sign_in(client, "ada", **from_ip("10.0.7.1")).status_code == 302


def test_one_client_trying_many_usernames_is_refused_at_the_per_client_limit(client):
    for attempt in range(10):
        assert guess(client, f"nobody{attempt}", "10.0.8.1").status_code == 422
    assert guess(client, "someone-else", "10.0.8.1").status_code == 429
    assert guess(client, "someone-else", "10.0.8.2").status_code == 422


def test_a_disabled_accounts_right_password_counts_as_a_failure(app, client, accounts):
    user_id, _ = accounts.create("ada")
    with app.app_context():
        db.session.get(User, user_id).is_disabled = True
        db.session.commit()
    for _ in range(5):
        response = sign_in(client, "ada", **from_ip("10.0.9.1"))
        assert response.status_code == 422 and "This account is disabled." in response.get_data(as_text=True)
    assert sign_in(client, "ada", **from_ip("10.0.9.1")).status_code == 429


def test_showing_the_form_is_not_limited(client):
    for _ in range(12):
        assert client.get("/login").status_code == 200


def test_registration_counts_every_attempt_per_ip(client):
    for name in ("reg-one", "reg-two"):
        response = submit(client, "/register", {"username": name, "password": PASSWORD, "confirm": PASSWORD})
        assert response.status_code == 200
        sign_out(client)
    third = submit(client, "/register", {"username": "reg-three", "password": PASSWORD, "confirm": PASSWORD})
    assert third.status_code == 429 and "Retry-After" in third.headers


def test_wrong_current_passwords_are_limited_but_policy_refusals_are_not(client, accounts):
    accounts.create("ada")
    sign_in(client, "ada")
    weak = {"current_password": PASSWORD, "new_password": "aaaaaaaa", "confirm": "aaaaaaaa"}
    assert [submit(client, "/account/password", weak).status_code for _ in range(6)] == [422] * 6
    wrong = {"current_password": "wrong password", "new_password": "x7#Kp!2q-LongEnough", "confirm": "x7#Kp!2q-LongEnough"}
    statuses = [submit(client, "/account/password", wrong).status_code for _ in range(6)]
    assert statuses == [422] * 5 + [429]


def test_wrong_passwords_on_the_deletion_form_share_the_windows_of_sign_in(app, client, accounts):
    user_id, _ = accounts.create("ada")
    sign_in(client, "ada")
    for _ in range(3):
        assert guess(app.test_client(), "ada", "127.0.0.1").status_code == 422
    data = {"confirm_username": "ada", "password": "wrong password"}
    assert [submit(client, "/account/delete", data).status_code for _ in range(3)] == [422, 422, 429]
    with app.app_context():
        assert db.session.get(User, user_id) is not None


def test_redis_failing_while_a_failure_is_counted_answers_the_503_page(client, accounts, monkeypatch):
    accounts.create("ada")

    def unreachable(self, *args, **kwargs):
        raise StorageError(ConnectionError("Redis went away"))

    monkeypatch.setattr(MovingWindowRateLimiter, "hit", unreachable)
    response = guess(client, "ada", "10.0.10.1")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "temporarily unavailable" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("name", ["LOGIN_IP_RATE_LIMIT", "LOGIN_USERNAME_RATE_LIMIT"])
def test_an_unreadable_limit_is_refused_at_start_naming_the_variable(app_env, name):
    from config import ConfigError, load_config

    with pytest.raises(ConfigError, match=name):
        load_config({**app_env, name: "lots"})
