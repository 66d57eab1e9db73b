"""The prediction page: raw JSON (shown, downloadable), the submitting key, cancel while pending."""

from __future__ import annotations

import html as html_lib
import json
import re

from proxyapp.extensions import db
from proxyapp.models import ApiKey, Prediction
from proxyapp.queue import get_queue
from tests.conftest import CANONICAL_BODY, bearer
from tests.webforms import sign_in, submit


def submitted(client, key: str) -> str:
    """A queued prediction submitted through the API (no worker runs in these tests)."""
    response = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key))
    assert response.status_code == 202
    return response.get_json()["id"]


def set_status(app, prediction_id: str, status: str) -> None:
    with app.app_context():
        db.session.get(Prediction, prediction_id).status = status
        db.session.commit()


def shown_json(page_html: str) -> dict:
    match = re.search(r'<code id="raw-json" data-testid="raw-json">(.*?)</code>', page_html, re.DOTALL)
    assert match, "no raw JSON on the page"
    return json.loads(html_lib.unescape(match.group(1)))


def test_the_page_shows_the_same_json_as_the_api(client, ada):
    _, key = ada
    prediction_id = submitted(client, key)
    page = client.get(f"/account/predictions/{prediction_id}").get_data(as_text=True)
    assert shown_json(page) == client.get(f"/v1/predictions/{prediction_id}", headers=bearer(key)).get_json()
    assert 'data-copy-target="raw-json"' in page and "hidden>Copy JSON" in page  # copy needs JavaScript
    assert f'href="/account/predictions/{prediction_id}.json" download' in page


def test_the_download_is_an_attachment_of_the_apis_json(client, ada):
    _, key = ada
    prediction_id = submitted(client, key)
    response = client.get(f"/account/predictions/{prediction_id}.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="prediction-{prediction_id}.json"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == client.get(f"/v1/predictions/{prediction_id}", headers=bearer(key)).get_json()


def test_the_download_is_for_the_owner_only(app, client, accounts, ada):
    _, key = ada
    prediction_id = submitted(client, key)
    accounts.create("bob")
    bob = app.test_client()
    sign_in(bob, "bob")
    response = bob.get(f"/account/predictions/{prediction_id}.json")
    assert response.status_code == 404 and "E11.3551" not in response.get_data(as_text=True)
    assert bob.get("/account/predictions/01ARZ3NDEKTSV4RRFFQ69G5FAV.json").status_code == 404
    anonymous = app.test_client().get(f"/account/predictions/{prediction_id}.json")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_page_names_the_key_that_submitted_it(app, client, accounts, ada):
    user_id, _ = ada
    extra = accounts.add_key(user_id, "ci server")
    prediction_id = submitted(client, extra.plaintext)
    page = client.get(f"/account/predictions/{prediction_id}").get_data(as_text=True)
    summary = re.search(r'data-testid="submitting-key">(.*?)</p>', page, re.DOTALL).group(1)
    assert "“ci server”" in summary and f"{extra.plaintext[:12]}…" in summary and extra.plaintext not in page


def test_a_prediction_whose_key_is_gone_says_deleted_key(app, client, accounts, ada):
    user_id, _ = ada
    extra = accounts.add_key(user_id, "temporary")
    prediction_id = submitted(client, extra.plaintext)
    with app.app_context():
        db.session.delete(db.session.get(ApiKey, extra.api_key.id))
        db.session.commit()
        assert db.session.get(Prediction, prediction_id).api_key_id is None
    page = client.get(f"/account/predictions/{prediction_id}").get_data(as_text=True)
    assert "deleted key" in re.search(r'data-testid="submitting-key">(.*?)</p>', page, re.DOTALL).group(1)


def test_cancel_a_queued_prediction_from_its_page(app, client, ada):
    _, key = ada
    prediction_id = submitted(client, key)
    path = f"/account/predictions/{prediction_id}"
    assert 'data-testid="cancel-prediction"' in client.get(path).get_data(as_text=True)
    response = submit(client, path, {}, f"{path}/cancel")
    assert response.status_code == 302 and response.headers["Location"] == path
    page = client.get(path).get_data(as_text=True)
    assert "The prediction is canceled." in page and "badge-canceled" in page
    assert 'data-testid="cancel-prediction"' not in page
    assert client.get(f"/v1/predictions/{prediction_id}", headers=bearer(key)).get_json()["status"] == "canceled"
    with app.app_context():
        assert get_queue().fetch_job(prediction_id).is_canceled  # the API's cancel: the job left the queue too


def test_cancel_a_running_prediction(app, client, ada):
    _, key = ada
    prediction_id = submitted(client, key)
    set_status(app, prediction_id, "running")
    path = f"/account/predictions/{prediction_id}"
    submit(client, path, {}, f"{path}/cancel")
    assert client.get(f"/v1/predictions/{prediction_id}", headers=bearer(key)).get_json()["status"] == "canceled"


def test_cancel_of_a_finished_prediction_says_so_and_changes_nothing(app, client, ada):
    _, key = ada
    prediction_id = submitted(client, key)
    path = f"/account/predictions/{prediction_id}"
    token_page = client.get(path).get_data(as_text=True)  # the button was shown while it was queued
    set_status(app, prediction_id, "succeeded")
    token = re.search(r'name="csrf_token" value="([^"]+)"', token_page).group(1)
    response = client.post(f"{path}/cancel", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "had already finished (succeeded) before the cancel arrived; nothing was changed" in page
    assert 'role="alert"' in page and "badge-succeeded" in page and 'data-testid="cancel-prediction"' not in page
    assert client.get(f"/v1/predictions/{prediction_id}", headers=bearer(key)).get_json()["status"] == "succeeded"


def test_cancel_needs_csrf_and_ownership(app, client, accounts, ada):
    _, key = ada
    prediction_id = submitted(client, key)
    path = f"/account/predictions/{prediction_id}"
    assert client.post(f"{path}/cancel").status_code == 400
    accounts.create("bob")
    bob = app.test_client()
    sign_in(bob, "bob")
    assert submit(bob, "/account", {}, f"{path}/cancel").status_code == 404
    assert client.get(f"/v1/predictions/{prediction_id}", headers=bearer(key)).get_json()["status"] == "queued"
    anonymous = app.test_client().post(f"{path}/cancel")
    assert anonymous.status_code in (302, 400)
