"""Revoke and rotate ask first: the account page links to a confirmation page whose form POSTs."""

from __future__ import annotations

import re

import pytest

from proxyapp.extensions import db
from proxyapp.models import ApiKey
from tests.conftest import bearer, isolated_env
from tests.webforms import account_action, shown_key, sign_in, submit


@pytest.fixture
def app_env(tmp_path, redis_url):
    """A one-hour rotation grace."""
    return isolated_env(tmp_path, redis_url, KEY_ROTATION_GRACE_SECONDS="3600")


@pytest.fixture
def ada(app, client, accounts):
    """A signed-in account: its first key's id and plaintext."""
    _, key = accounts.create("ada")
    sign_in(client, "ada")
    with app.app_context():
        return db.session.query(ApiKey).one().id, key


def stored(app, key_id: int) -> ApiKey:
    with app.app_context():
        return db.session.get(ApiKey, key_id)


def form_of(html: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)" class="form-actions">', html)
    assert match, "no confirmation form"
    return match.group(1)


def test_the_account_page_links_to_the_confirmations_instead_of_acting(client, ada):
    key_id, _ = ada
    html = client.get("/account").get_data(as_text=True)
    assert f'href="/account/keys/{key_id}/rotate" data-testid="rotate-{key_id}"' in html
    assert f'href="/account/keys/{key_id}/revoke" data-testid="revoke-{key_id}"' in html
    assert f'action="/account/keys/{key_id}/revoke"' not in html


def test_the_revoke_page_names_the_key_and_the_consequence_and_changes_nothing(app, client, ada):
    key_id, key = ada
    response = client.get(f"/account/keys/{key_id}/revoke")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "Revoke key “default”?" in html and f"{key[:12]}…" in html and key not in html
    assert "refused (<code>401</code>) from the moment you revoke it" in html
    assert form_of(html) == f"/account/keys/{key_id}/revoke"
    assert stored(app, key_id).revoked_at is None
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200


def test_posting_the_revoke_pages_form_revokes(app, client, ada):
    key_id, key = ada
    response = submit(client, f"/account/keys/{key_id}/revoke", {})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "is revoked" in client.get("/account").get_data(as_text=True)
    assert client.get("/v1/me", headers=bearer(key)).status_code == 401


def test_the_rotate_page_says_what_is_issued_and_when_the_old_key_stops(app, client, ada):
    key_id, _ = ada
    html = client.get(f"/account/keys/{key_id}/rotate").get_data(as_text=True)
    assert "Rotate key “default”?" in html and "is created and shown once" in html
    assert re.search(r"keeps working until <time[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", html)
    assert form_of(html) == f"/account/keys/{key_id}/rotate"
    assert stored(app, key_id).rotated_at is None
    new = shown_key(submit(client, f"/account/keys/{key_id}/rotate", {}))
    assert client.get("/v1/me", headers=bearer(new)).status_code == 200
    assert stored(app, key_id).rotated_at is not None


def test_a_revoked_key_has_nothing_to_confirm(client, ada):
    key_id, _ = ada
    account_action(client, f"/account/keys/{key_id}/revoke")
    for action in ("revoke", "rotate"):
        html = client.get(f"/account/keys/{key_id}/{action}").get_data(as_text=True)
        assert 'data-testid="confirm-impossible"' in html and f"nothing to {action}" in html
        assert f'action="/account/keys/{key_id}/{action}"' not in html


def test_a_rotating_key_can_be_revoked_but_not_rotated_again_from_its_page(client, ada):
    key_id, _ = ada
    account_action(client, f"/account/keys/{key_id}/rotate")
    assert 'data-testid="confirm-impossible"' in client.get(f"/account/keys/{key_id}/rotate").get_data(as_text=True)
    assert form_of(client.get(f"/account/keys/{key_id}/revoke").get_data(as_text=True))


@pytest.mark.parametrize("action", ["revoke", "rotate"])
def test_someone_elses_key_or_a_missing_one_is_404(app, client, accounts, ada, action):
    _, other = accounts.create("bob")
    with app.app_context():
        other_id = db.session.query(ApiKey).filter_by(display_prefix=other[:12]).one().id
    assert client.get(f"/account/keys/{other_id}/{action}").status_code == 404
    assert client.get(f"/account/keys/999999/{action}").status_code == 404


@pytest.mark.parametrize("action", ["revoke", "rotate"])
def test_anonymous_visitors_are_sent_to_sign_in(app, ada, action):
    key_id, _ = ada
    response = app.test_client().get(f"/account/keys/{key_id}/{action}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
