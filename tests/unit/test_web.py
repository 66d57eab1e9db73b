"""Registration, login and the account page, through the test client."""


import pytest

from proxyapp.extensions import db
from proxyapp.models import ApiKey, User
from proxyapp.services.keys.tokens import hash_key, is_well_formed
from tests.conftest import CHEAP_HASHING, PASSWORD, bearer, built_app, csrf_token, isolated_env
from tests.webforms import shown_key


def register(client, username="dana", password=PASSWORD, confirm=None, **extra):
    page = client.get("/register").get_data(as_text=True)
    data = {"username": username, "password": password, "confirm": confirm or password,
            "csrf_token": csrf_token(page), **extra}
    return client.post("/register", data=data)


def test_register_signs_in_and_shows_working_key_once(app, client):
    response = register(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    key = shown_key(response)
    assert is_well_formed(key)
    assert "curl" in response.get_data(as_text=True) and "data-copy-target" in response.get_data(as_text=True)
    assert client.get("/v1/me", headers=bearer(key)).get_json()["account"]["username"] == "dana"
    account_page = client.get("/account").get_data(as_text=True)
    assert key[:12] in account_page and key not in account_page
    with app.app_context():
        stored = db.session.query(ApiKey).one()
        assert stored.key_hash == hash_key(key) and key not in (stored.key_hash, stored.display_prefix)


def test_password_hash_is_argon2id_at_asvs_strength(tmp_path, redis_url, monkeypatch):
    defaults = {name: value for name, value in isolated_env(tmp_path, redis_url).items() if name not in CHEAP_HASHING}
    with built_app(defaults, tmp_path, monkeypatch) as app:
        register(app.test_client())
        with app.app_context():
            stored = db.session.query(User).one().password_hash
    assert stored.startswith("$argon2id$")
    settings = dict(part.split("=") for part in stored.split("$")[3].split(","))
    assert int(settings["m"]) >= 46 * 1024 and int(settings["t"]) >= 1 and int(settings["p"]) == 1


@pytest.mark.parametrize(
    ("username", "password", "confirm", "field", "message"),
    [
        ("eve", "short77", None, "password", "at least 8"),
        ("eve", "password123", None, "password", "too common"),
        ("eve", PASSWORD, "something else entirely", "confirm", "do not match"),
        ("e", PASSWORD, None, "username", "between 3 and 32"),
        ("bad name!", PASSWORD, None, "username", "letters, digits"),
        ("evelyn99", "evelyn99", None, "password", "same as the username"),
        ("eve", "aaaaaaaa", None, "password", "Too easy to guess"),
        ("evelyn77", "evelyn77!", None, "password", "Too easy to guess"),
    ],
    ids=["too-short", "common", "mismatch", "short-username", "bad-username", "password-is-username",
         "weak-by-zxcvbn", "username-variation"],
)
def test_bad_registration_shows_error_beside_the_field(client, username, password, confirm, field, message):
    response = register(client, username, password, confirm)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html
    assert "pxk_" not in html


def test_64_character_password_is_accepted(client):
    assert register(client, password=("quiet otter juggles " * 4)[:64]).status_code == 200


def test_duplicate_username_is_refused_case_insensitively(client, app):
    register(client, "frank")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").get_data(as_text=True))})
    response = register(client, "Frank")
    assert response.status_code == 422
    assert "This username is taken." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).count() == 1


def test_register_without_csrf_token_is_400(client):
    response = client.post("/register", data={"username": "gina", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 400
    assert "pxk_" not in response.get_data(as_text=True)


def test_login_same_error_for_unknown_user_and_wrong_password(client, accounts):
    accounts.create("henry")
    messages = []
    for username, password in [("henry", "wrong password here"), ("nobody", PASSWORD)]:
        page = client.get("/login").get_data(as_text=True)
        response = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_token(page)})
        assert response.status_code == 422
        messages.append(response.get_data(as_text=True).count("Unknown username or wrong password."))
    assert messages == [1, 1]


def test_account_requires_login(client):
    response = client.get("/account")
    assert response.status_code in (302, 401)


def test_logout_is_post_only(client):
    assert client.get("/logout").status_code == 405
