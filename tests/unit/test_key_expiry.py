"""Keys with an expiry chosen at creation: validation, 401 `key_expired`, /v1/me, the account page, rotation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from proxyapp.extensions import db
from proxyapp.models import ApiKey, User, utcnow
from proxyapp.services.keys import lifecycle as keyring
from tests.conftest import bearer, isolated_env
from tests.databases import DATABASE_KINDS, temporary_database
from tests.webforms import account_action, shown_key

GRACE = timedelta(hours=1)


@pytest.fixture(params=DATABASE_KINDS)
def app_env(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """Expiry is compared in SQL (the usable-key count) and in Python: both databases."""
    with temporary_database(request.param, tmp_path) as database_url:
        yield isolated_env(tmp_path, redis_url, DATABASE_URL=database_url, KEY_MAX_LIFETIME_DAYS="30",
                        KEY_ROTATION_GRACE_SECONDS=str(int(GRACE.total_seconds())))


def today() -> date:
    return utcnow().date()


def stored(app, plaintext: str) -> ApiKey:
    with app.app_context():
        return db.session.scalars(select(ApiKey).where(ApiKey.display_prefix == plaintext[:12])).one()


def expire(app, plaintext: str, ago: timedelta = timedelta(seconds=1)) -> datetime:
    """Move a key's expiry into the past, as if its date had come."""
    with app.app_context():
        api_key = db.session.scalars(select(ApiKey).where(ApiKey.display_prefix == plaintext[:12])).one()
        api_key.expires_at = utcnow() - ago
        db.session.commit()
        return api_key.expires_at


def create_key(client, name: str, expires_on: str):
    return account_action(client, "/account/keys", {"name": name, "expires_on": expires_on})


def key_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(ApiKey)).all())


def test_a_key_with_an_expiry_date_stops_at_midnight_utc_of_that_date_and_me_shows_it(app, client, ada):
    day = today() + timedelta(days=10)
    response = create_key(client, "contractor", day.isoformat())
    assert response.status_code == 200
    key = shown_key(response)
    assert stored(app, key).expires_at == datetime(day.year, day.month, day.day, tzinfo=UTC)
    shown = re.search(r'data-testid="new-key-expiry">(.*?)</p>', response.get_data(as_text=True)).group(1)
    assert f"{day.isoformat()} 00:00 UTC" in shown and "the expiry you chose" in shown
    me = client.get("/v1/me", headers=bearer(key)).get_json()
    assert me["key"]["expires_at"] == f"{day.isoformat()}T00:00:00.000Z"
    assert stored(app, key).rotated_at is None


def test_a_key_without_a_date_never_expires(app, client, ada):
    _, first = ada
    response = create_key(client, "forever", "")
    key = shown_key(response)
    assert 'data-testid="new-key-expiry"' not in response.get_data(as_text=True)
    assert stored(app, key).expires_at is None
    assert client.get("/v1/me", headers=bearer(key)).get_json()["key"]["expires_at"] is None
    assert client.get("/v1/me", headers=bearer(first)).get_json()["key"]["expires_at"] is None


@pytest.mark.parametrize(("offset", "message"), [
    (0, "Choose a date after today"),
    (-3, "Choose a date after today"),
    (32, "at most 30 days ahead"),  # two past the limit: still past it if midnight passes mid-test
])
def test_an_expiry_date_outside_tomorrow_to_the_limit_is_refused_with_a_clear_error(app, client, ada, offset, message):
    response = create_key(client, "bad", (today() + timedelta(days=offset)).isoformat())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="expires_on-error"' in html and message in html and 'data-testid="new-key"' not in html
    assert 'value="bad"' in html  # the name typed is kept
    assert key_count(app) == 1


@pytest.mark.parametrize("typed", ["31/12/2030", "tomorrow", "2030-02-30"])
def test_a_malformed_date_is_refused_with_the_expected_format(app, client, ada, typed):
    response = create_key(client, "bad", typed)
    assert response.status_code == 422
    assert "Enter the date as YYYY-MM-DD" in response.get_data(as_text=True)
    assert key_count(app) == 1


def test_the_limits_are_tomorrow_and_the_setting_inclusive(app):
    with app.test_request_context():
        fixed = date(2030, 1, 31)
        assert keyring.expiry_date_range(fixed) == (date(2030, 2, 1), date(2030, 3, 2))
        assert keyring.expiry_problem(date(2030, 2, 1), fixed) is None
        assert keyring.expiry_problem(date(2030, 3, 2), fixed) is None
        assert "after today (2030-01-31, UTC)" in keyring.expiry_problem(date(2030, 1, 31), fixed)
        assert "by 2030-03-02" in keyring.expiry_problem(date(2030, 3, 3), fixed)


def test_the_service_refuses_a_bad_date_too(app, ada):
    user_id, _ = ada
    with app.test_request_context():
        user = db.session.get(User, user_id)
        with pytest.raises(keyring.KeyActionRefused, match="after today"):
            keyring.create_named_key(user, "api", today())
    assert key_count(app) == 1


def test_the_date_input_carries_min_and_max(client, ada):
    html = client.get("/account").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="expires_on"[^>]*>', html).group(0)
    assert 'type="date"' in field
    assert f'min="{today() + timedelta(days=1)}"' in field and f'max="{today() + timedelta(days=30)}"' in field
    assert 'aria-describedby="expires_on-hint"' in field


def test_an_expired_key_gets_401_key_expired_saying_when(app, client, ada):
    key = shown_key(create_key(client, "short", (today() + timedelta(days=1)).isoformat()))
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200
    when = expire(app, key)
    response = client.get("/v1/me", headers=bearer(key))
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "key_expired"
    assert error["message"] == (f"This API key expired at {when:%Y-%m-%d %H:%M} UTC; "
                                "create a new key on your account page.")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert error["request_id"]
    assert client.post("/v1/predictions", json={}, headers=bearer(key)).get_json()["error"]["code"] == "key_expired"


def test_unknown_and_revoked_keys_still_get_unauthorized(app, client, ada):
    _, key = ada
    unknown = client.get("/v1/me", headers=bearer(key[:-8] + "AAAAAAAA"))
    assert unknown.status_code == 401 and unknown.get_json()["error"]["code"] == "unauthorized"
    expiring = shown_key(create_key(client, "soon", (today() + timedelta(days=2)).isoformat()))
    key_id = stored(app, expiring).id
    account_action(client, f"/account/keys/{key_id}/revoke")
    expire(app, expiring)  # revoked and past its date: revocation is what the owner did
    revoked = client.get("/v1/me", headers=bearer(expiring))
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "unauthorized"


def test_a_rotated_key_past_its_grace_says_it_was_replaced(app, client, ada):
    _, key = ada
    account_action(client, f"/account/keys/{stored(app, key).id}/rotate")
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200
    expire(app, key)
    error = client.get("/v1/me", headers=bearer(key)).get_json()["error"]
    assert error["code"] == "key_expired" and "replaced by rotation" in error["message"]


def test_the_account_page_shows_expiry_and_the_expired_status(app, client, ada):
    _, first = ada
    day = today() + timedelta(days=5)
    key = shown_key(create_key(client, "dated", day.isoformat()))
    html = client.get("/account").get_data(as_text=True)
    dated = stored(app, key)
    assert re.search(rf'data-testid="expires-{dated.id}"><time datetime="{day.isoformat()}T00:00:00\+00:00" '
                     rf'class="wraps"><span>{day.isoformat()}</span> <span>00:00 UTC</span>', html)
    assert f'data-testid="expires-{stored(app, first).id}">never<' in html
    expire(app, key)
    html = client.get("/account").get_data(as_text=True)
    status = re.search(rf'data-testid="status-{dated.id}">(.*?)</td>', html, re.DOTALL).group(1)
    assert "badge-expired" in status
    assert f'data-testid="rotate-{dated.id}"' not in html and f'data-testid="revoke-{dated.id}"' not in html
    assert "1 of 10 usable keys" in html  # the expired key no longer counts towards the cap


def test_rotation_keeps_the_chosen_expiry_for_the_new_key_and_never_extends_the_old(app, client, ada):
    day = today() + timedelta(days=3)
    old = shown_key(create_key(client, "dated", day.isoformat()))
    rotated = account_action(client, f"/account/keys/{stored(app, old).id}/rotate")
    new = shown_key(rotated)
    assert "the expiry of the key it replaces" in rotated.get_data(as_text=True)
    chosen = datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert stored(app, new).expires_at == chosen
    assert stored(app, old).rotated_at is not None
    assert utcnow() < stored(app, old).expires_at <= utcnow() + GRACE  # the grace end, sooner than the date


def test_a_key_expiring_within_the_grace_keeps_its_own_expiry_when_rotated(app, client, ada):
    old = shown_key(create_key(client, "dated", (today() + timedelta(days=2)).isoformat()))
    soon = utcnow() + timedelta(minutes=5)
    with app.app_context():
        db.session.get(ApiKey, stored(app, old).id).expires_at = soon
        db.session.commit()
    new = shown_key(account_action(client, f"/account/keys/{stored(app, old).id}/rotate"))
    assert abs(stored(app, old).expires_at - soon) < timedelta(seconds=1)
    assert abs(stored(app, new).expires_at - soon) < timedelta(seconds=1)


def test_an_expired_key_cannot_be_rotated(app, client, ada):
    key = shown_key(create_key(client, "dated", (today() + timedelta(days=2)).isoformat()))
    expire(app, key)
    response = account_action(client, f"/account/keys/{stored(app, key).id}/rotate")
    assert response.status_code == 302
    assert "This key is revoked or expired" in client.get("/account").get_data(as_text=True)
    assert key_count(app) == 2


def test_the_api_guide_explains_expiry_and_key_expired(client):
    guide = client.get("/docs/guide").get_data(as_text=True)
    assert "Keys and their expiry" in guide and "key_expired" in guide and "KEY_MAX_LIFETIME_DAYS" in guide
