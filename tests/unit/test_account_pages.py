"""The account page's usage and predictions, the prediction page, password change and deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from proxyapp.extensions import db
from proxyapp.models import ApiKey, Prediction, User, UserSession, utcnow
from tests.conftest import CANONICAL_BODY, PASSWORD, bearer
from tests.webforms import sign_in, submit

OUTPUT = {"predictions": [[{"code": "I10", "system": "ICD10CM", "display": "Essential (primary) hypertension"}]]}
NEW_PASSWORD = "a brand new passphrase"


def add_prediction(app, user_id: int, status: str = "succeeded", **values) -> str:
    with app.app_context():
        now = utcnow()
        prediction = Prediction(user_id=user_id, status=status, input=CANONICAL_BODY, created_at=now,
                                started_at=now, completed_at=now + timedelta(seconds=1), **values)
        db.session.add(prediction)
        db.session.commit()
        return prediction.id


def test_usage_shows_requests_against_the_limit_and_predictions_by_status(app, client, ada):
    user_id, key = ada
    client.get("/v1/me", headers=bearer(key))
    add_prediction(app, user_id, "failed", error_code="upstream_error", error_message="upstream said 500")
    html = client.get("/account").get_data(as_text=True)
    assert "Requests this window" in html and "Requests today" in html
    assert "of 100/minute" in html
    assert "<dt>Failed</dt><dd>1</dd>" in html and "<dt>Succeeded</dt><dd>0</dd>" in html


def test_recent_predictions_show_ids_status_and_times_but_no_patient_data(app, client, ada):
    user_id, _ = ada
    prediction_id = add_prediction(app, user_id, output=OUTPUT)
    html = client.get("/account").get_data(as_text=True)
    assert prediction_id in html and f"/account/predictions/{prediction_id}" in html and "badge-succeeded" in html
    for secret in ("Type 2 diabetes", "E11.3551", "hypertension", "I10"):
        assert secret not in html


def test_prediction_page_shows_input_and_output_to_the_owner(app, client, ada):
    user_id, _ = ada
    prediction_id = add_prediction(app, user_id, output=OUTPUT)
    response = client.get(f"/account/predictions/{prediction_id}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "E11.3551" in html and "Essential (primary) hypertension" in html


def test_prediction_page_shows_the_error_of_a_failed_one(app, client, ada):
    user_id, _ = ada
    prediction_id = add_prediction(app, user_id, "failed", error_code="upstream_rejected", error_message="bad code")
    html = client.get(f"/account/predictions/{prediction_id}").get_data(as_text=True)
    assert "upstream_rejected" in html and "bad code" in html and "No output." in html


def test_someone_elses_prediction_is_404_and_anonymous_visitors_sign_in(app, client, accounts, ada):
    bob_id, _ = accounts.create("bob")
    prediction_id = add_prediction(app, bob_id, output=OUTPUT)
    response = client.get(f"/account/predictions/{prediction_id}")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "E11.3551" not in response.get_data(as_text=True)
    assert client.get("/account/predictions/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    assert app.test_client().get(f"/account/predictions/{prediction_id}").status_code == 302


@pytest.mark.parametrize("path", ["/account", "/account/password", "/account/delete"])
def test_account_pages_are_never_cached(client, ada, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def change_password(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    data = {"current_password": current, "new_password": new, "confirm": confirm or new}
    return submit(client, "/account/password", data)


def test_change_password_needs_the_current_one(client, ada):
    response = change_password(client, current="not my password")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="current_password-error"' in html and "The password is wrong." in html
    assert sign_in(client, "ada").status_code == 302  # unchanged


@pytest.mark.parametrize(
    ("new", "confirm", "field", "message"),
    [("short", None, "new_password", "at least 8"), ("password123", None, "new_password", "too common"),
     ("aaaaaaaa", None, "new_password", "Too easy to guess"),
     (NEW_PASSWORD, "something else", "confirm", "do not match")],
    ids=["too-short", "common", "weak-by-zxcvbn", "mismatch"],
)
def test_change_password_applies_the_policy(client, ada, new, confirm, field, message):
    response = change_password(client, new=new, confirm=confirm)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html


def test_change_password_then_sign_in_with_the_new_one(app, client, ada):
    user_id, key = ada
    response = change_password(client)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "Your password is changed" in client.get("/account").get_data(as_text=True)
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200  # keys are not affected
    other = app.test_client()
    assert sign_in(other, "ada").status_code == 422
    assert sign_in(other, "ada", NEW_PASSWORD).status_code == 302
    with app.app_context():  # the old session's row is gone: this browser's new one and the other's remain
        assert db.session.scalar(select(func.count()).where(UserSession.user_id == user_id)) == 2


def delete_account(client, password=PASSWORD, username="ada"):
    return submit(client, "/account/delete", {"confirm_username": username, "password": password})


@pytest.mark.parametrize(
    ("username", "password", "field", "message"),
    [("ada", "wrong password", "password", "The password is wrong."),
     ("bob", PASSWORD, "confirm_username", "This is not your username."),
     ("", PASSWORD, "confirm_username", "This field is required.")],
    ids=["wrong-password", "wrong-username", "no-confirmation"],
)
def test_delete_account_needs_password_and_confirmation(app, client, ada, username, password, field, message):
    response = delete_account(client, password, username)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    with app.app_context():
        assert db.session.get(User, ada[0]) is not None


def test_delete_account_removes_keys_predictions_and_the_login(app, client, accounts, ada):
    user_id, key = ada
    add_prediction(app, user_id, output=OUTPUT)
    bob_id, bob_key = accounts.create("bob")
    add_prediction(app, bob_id, output=OUTPUT)
    phone = app.test_client()
    sign_in(phone, "ada")
    response = delete_account(client, username="ADA")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "have been deleted" in client.get("/").get_data(as_text=True)
    assert client.get("/account").status_code == 302
    assert phone.get("/account").status_code == 302
    assert client.get("/v1/me", headers=bearer(key)).status_code == 401
    assert sign_in(client, "ada").status_code == 422
    with app.app_context():
        assert db.session.get(User, user_id) is None
        assert db.session.query(ApiKey).filter_by(user_id=user_id).count() == 0
        assert db.session.query(UserSession).filter_by(user_id=user_id).count() == 0
        assert db.session.query(Prediction).filter_by(user_id=user_id).count() == 0
        assert db.session.query(Prediction).filter_by(user_id=bob_id).count() == 1
    assert client.get("/v1/me", headers=bearer(bob_key)).status_code == 200


@pytest.mark.parametrize("path", ["/account/password", "/account/delete"])
def test_password_forms_need_csrf(client, ada, path):
    assert client.post(path, data={"current_password": PASSWORD, "password": PASSWORD}).status_code == 400


def test_delete_account_removes_its_cached_results_and_idempotency_records(app, client, accounts, ada):
    user_id, _key = ada
    from proxyapp.services.predictions import idempotency
    from proxyapp.services.predictions import result_cache as cache

    with app.app_context():
        cache.store(user_id, "prediction", CANONICAL_BODY, OUTPUT)
        assert idempotency.record(user_id, "visit-1", CANONICAL_BODY, "01PRED")
        bob_id, _ = accounts.create("bob")
        cache.store(bob_id, "prediction", CANONICAL_BODY, OUTPUT)
    assert delete_account(client, username="ada").status_code == 302
    with app.app_context():
        assert cache.lookup(user_id, "prediction", CANONICAL_BODY, max_age=3600) is None
        assert idempotency.recorded_prediction_id(user_id, "visit-1", CANONICAL_BODY) is None
        assert cache.lookup(bob_id, "prediction", CANONICAL_BODY, max_age=3600) == OUTPUT  # another account's stay
