"""The account page's keys: create (capped), rotate with a grace period, revoke, ownership."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from proxyapp.extensions import db
from proxyapp.models import ApiKey, utcnow
from tests.conftest import bearer, isolated_env
from tests.webforms import account_action, shown_key


@pytest.fixture
def app_env(tmp_path, redis_url):
    """A cap of three keys and a one-hour rotation grace."""
    return isolated_env(tmp_path, redis_url, MAX_KEYS_PER_ACCOUNT="3", KEY_ROTATION_GRACE_SECONDS="3600")


def key_row(app, plaintext_or_id):
    with app.app_context():
        if isinstance(plaintext_or_id, int):
            return db.session.get(ApiKey, plaintext_or_id)
        return db.session.query(ApiKey).filter_by(display_prefix=plaintext_or_id[:12]).one()


def test_account_page_lists_keys_with_name_prefix_dates_and_status(client, ada):
    _, key = ada
    client.get("/v1/me", headers=bearer(key))
    page = client.get("/account")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert "default" in html and f"{key[:12]}…" in html and key not in html
    assert "badge-active" in html and "1 of 3 usable keys" in html
    assert re.search(r'data-testid="last-used-\d+"><time datetime="[^"]+" class="wraps"><span>\d{4}-\d\d-\d\d</span> '
                     r'<span>\d\d:\d\d UTC</span>', html)


def test_create_named_key_shows_it_once_and_it_works(app, client, ada):
    response = account_action(client, "/account/keys", {"name": "ci server"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    key = shown_key(response)
    assert "“ci server”" in response.get_data(as_text=True)
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200
    assert key not in client.get("/account").get_data(as_text=True)
    assert key_row(app, key).name == "ci server"


@pytest.mark.parametrize(("name", "message"), [("", "This field is required."), ("x" * 65, "longer than 64")])
def test_key_name_is_required_and_bounded(client, ada, name, message):
    response = account_action(client, "/account/keys", {"name": name})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="name-error"' in html and message in html and "data-testid=\"new-key\"" not in html


def test_key_cap_refuses_the_fourth_usable_key(client, ada):
    for name in ("two", "three"):
        assert account_action(client, "/account/keys", {"name": name}).status_code == 200
    refused = account_action(client, "/account/keys", {"name": "four"})
    assert refused.status_code == 422
    assert "You already have 3 usable keys" in refused.get_data(as_text=True)


def test_revoked_keys_do_not_count_towards_the_cap(app, client, ada):
    account_action(client, "/account/keys", {"name": "two"})
    three = shown_key(account_action(client, "/account/keys", {"name": "three"}))
    account_action(client, f"/account/keys/{key_row(app, three).id}/revoke")
    assert account_action(client, "/account/keys", {"name": "four"}).status_code == 200


def test_revoke_answers_401_from_then_on(app, client, ada):
    _, key = ada
    key_id = key_row(app, key).id
    response = account_action(client, f"/account/keys/{key_id}/revoke")
    assert response.status_code == 302
    assert client.get("/v1/me", headers=bearer(key)).status_code == 401
    page = client.get("/account").get_data(as_text=True)
    assert "is revoked" in page and "badge-revoked" in page
    assert f'data-testid="revoke-{key_id}"' not in page
    assert account_action(client, f"/account/keys/{key_id}/revoke").status_code == 302  # idempotent


def test_rotate_shows_the_new_key_once_and_the_old_one_works_until_the_grace_ends(app, client, ada):
    _, old = ada
    old_id = key_row(app, old).id
    response = account_action(client, f"/account/keys/{old_id}/rotate")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new = shown_key(response)
    assert 'data-testid="rotation-note"' in response.get_data(as_text=True)
    assert client.get("/v1/me", headers=bearer(new)).status_code == 200
    assert client.get("/v1/me", headers=bearer(old)).status_code == 200  # within the grace period
    with app.app_context():
        stored = db.session.get(ApiKey, old_id)
        remaining = stored.expires_at - utcnow()
        assert timedelta(minutes=59) < remaining <= timedelta(hours=1)
        assert db.session.query(ApiKey).filter_by(key_hash=stored.key_hash).count() == 1
        stored.expires_at = utcnow() - timedelta(seconds=1)  # the grace period is over
        db.session.commit()
    assert client.get("/v1/me", headers=bearer(old)).status_code == 401
    assert client.get("/v1/me", headers=bearer(new)).status_code == 200
    assert "badge-expired" in client.get("/account").get_data(as_text=True)


def test_rotating_twice_never_extends_the_old_keys_life(app, client, ada):
    _, old = ada
    old_id = key_row(app, old).id
    account_action(client, f"/account/keys/{old_id}/rotate")
    first_deadline = key_row(app, old_id).expires_at
    account_action(client, f"/account/keys/{old_id}/rotate")
    assert key_row(app, old_id).expires_at == first_deadline


def test_a_revoked_key_cannot_be_rotated(app, client, ada):
    _, key = ada
    key_id = key_row(app, key).id
    account_action(client, f"/account/keys/{key_id}/revoke")
    response = account_action(client, f"/account/keys/{key_id}/rotate")
    assert response.status_code == 302
    assert "This key is revoked or expired" in client.get("/account").get_data(as_text=True)
    assert client.get("/v1/me", headers=bearer(key)).status_code == 401


def test_rotation_respects_the_cap(app, client, ada):
    _, key = ada
    account_action(client, "/account/keys", {"name": "two"})
    account_action(client, "/account/keys", {"name": "three"})
    response = account_action(client, f"/account/keys/{key_row(app, key).id}/rotate")
    assert response.status_code == 302
    assert "You already have 3 usable keys" in client.get("/account").get_data(as_text=True)
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200
    assert key_row(app, key).expires_at is None


@pytest.mark.parametrize("action", ["revoke", "rotate"])
def test_someone_elses_key_is_404_and_untouched(app, client, accounts, ada, action):
    _, other_key = accounts.create("bob")
    other_id = key_row(app, other_key).id
    response = account_action(client, f"/account/keys/{other_id}/{action}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert client.get("/v1/me", headers=bearer(other_key)).status_code == 200
    assert key_row(app, other_id).expires_at is None and key_row(app, other_id).revoked_at is None


@pytest.mark.parametrize("path", ["/account/keys", "/account/keys/1/revoke", "/account/keys/1/rotate"])
def test_key_actions_need_a_csrf_token(client, ada, path):
    assert client.post(path, data={"name": "x"}).status_code == 400


@pytest.mark.parametrize("path", ["/account/keys", "/account/keys/1/revoke", "/account/keys/1/rotate"])
def test_key_actions_need_a_session(app, path):
    anonymous = app.test_client()
    response = anonymous.post(path, data={"name": "x"})
    assert response.status_code in (302, 400)
    app.config["WTF_CSRF_ENABLED"] = False
    assert anonymous.post(path, data={"name": "x"}).status_code == 302
