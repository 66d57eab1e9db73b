"""Webhooks end to end in-process: submission fields, deliveries, signatures, retries, refusals, the account page."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import Flask
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from standardwebhooks import Webhook, WebhookVerificationError

from config import ProductionConfig
from proxyapp.extensions import db
from proxyapp.models import DeliveryState, WebhookDelivery, utcnow
from proxyapp.queue import get_queue
from proxyapp.services.predictions import lifecycle as predictions
from proxyapp.services.webhooks.deliveries import (
    DELIVERY_JOB,
    attempt_delivery,
    purge_old_deliveries,
    requeue_stale_deliveries,
    retry_delay,
    retry_schedule,
)
from proxyapp.services.webhooks.signing_keys import rotate_signing_secret, signing_key, signing_secrets
from tests.conftest import CANONICAL_BODY, PASSWORD, bearer, csrf_token
from tests.fake_upstream import FakeUpstream, run


@pytest.fixture
def key(accounts) -> str:
    return accounts.create()[1]


def submit(client, key: str, path: str = "/v1/predictions", **fields) -> dict:
    response = client.post(path, json={**CANONICAL_BODY, **fields}, headers=bearer(key))
    assert response.status_code in (200, 202), response.get_json()
    return response.get_json()


def queued_attempts(app: Flask) -> list[tuple[str, int]]:
    """Take the webhook attempts off the queue: (delivery id, attempt) each."""
    with app.app_context():
        queue = get_queue()
        jobs = [job for job in queue.get_jobs() if job.func_name == DELIVERY_JOB]
        for job in jobs:
            queue.remove(job)
        return [tuple(job.args) for job in jobs]


def deliver_all(app: Flask) -> list[str]:
    """Run every queued attempt in-process, as a worker would; their outcomes."""
    outcomes = []
    for delivery_id, attempt in queued_attempts(app):
        with app.app_context():
            outcomes.append(attempt_delivery(delivery_id, attempt))
    return outcomes


def deliveries(app: Flask) -> list[WebhookDelivery]:
    with app.app_context():
        rows = list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at)))
        db.session.expunge_all()
        return rows


def secret_of(app: Flask, user_id: int) -> str:
    with app.app_context():
        return signing_key(user_id).secret


def user_of(app: Flask, delivery: WebhookDelivery) -> int:
    return delivery.user_id


# ------------------------------------------------------------------ submission


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"webhook": "not a url"}, "webhook", "Not a valid URL"),
    ({"webhook": "ftp://example.org/hook"}, "webhook", "Not a valid URL"),
    ({"webhook": "https://user:pw@example.org/hook"}, "webhook", "credentials"),
    ({"webhook": "https://example.org/" + "x" * 2048}, "webhook", "Longer than maximum length"),
    ({"webhook": "https://example.org/hook", "webhook_events_filter": ["finished"]}, "webhook_events_filter",
     "Must be one of"),
    ({"webhook": "https://example.org/hook", "webhook_events_filter": []}, "webhook_events_filter", "Length must be"),
    ({"webhook_events_filter": ["start"]}, "webhook_events_filter", "together with `webhook`"),
])
@pytest.mark.parametrize("path", ["/v1/predictions", "/v1/embeddings", "/v1/batches"])
def test_bad_webhook_fields_are_422_with_a_field_detail(client, key, path, fields, field, message):
    body = {"predictions": [CANONICAL_BODY]} if path == "/v1/batches" else (
        {"history": CANONICAL_BODY["history"]} if path == "/v1/embeddings" else dict(CANONICAL_BODY))
    response = client.post(path, json={**body, **fields}, headers=bearer(key))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert message in json.dumps(error["details"][field]), error


def test_production_refuses_http_and_private_addresses_at_submission(app, client, key):
    settings = ProductionConfig({})
    assert (settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOW_PRIVATE) == (False, False)
    app.config.update(WEBHOOK_ALLOW_HTTP=False, WEBHOOK_ALLOW_PRIVATE=False)  # production's values
    for url, message in (("http://example.org/hook", "https"), ("https://10.1.2.3/hook", "private"),
                         ("https://[::1]/hook", "private"), ("https://169.254.169.254/latest", "metadata")):
        response = client.post("/v1/predictions", json={**CANONICAL_BODY, "webhook": url}, headers=bearer(key))
        assert response.status_code == 422, url
        assert message in " ".join(response.get_json()["error"]["details"]["webhook"]), url
    assert submit(client, key, webhook="https://example.org/hook")["status"] == "queued"


def test_the_webhook_is_not_part_of_the_input_sent_upstream(app, client, key, receiver):
    created = submit(client, key, webhook=f"{receiver.url}/hook", webhook_events_filter=["start", "completed"])
    assert "webhook" not in created["input"] and "webhook_events_filter" not in created["input"]
    with app.app_context():
        assert predictions.mark_running(created["id"]).body == {**CANONICAL_BODY}


def test_a_prediction_without_a_webhook_makes_no_delivery(app, client, key):
    prediction = submit(client, key)
    assert run(app, prediction["id"], FakeUpstream()) == "succeeded"
    assert deliveries(app) == [] and queued_attempts(app) == []


# ------------------------------------------------------------------ deliveries


def test_completed_is_delivered_signed_and_without_patient_data(app, client, accounts, receiver):
    user_id, key = accounts.create()
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    assert run(app, prediction["id"], FakeUpstream()) == "succeeded"
    assert deliver_all(app) == ["delivered"]
    [(headers, body)] = [(hook.headers, hook.body) for hook in receiver.received]
    event = Webhook(secret_of(app, user_id)).verify(body, headers)
    assert event["type"] == "prediction.completed"
    data = event["data"]
    assert "input" not in data and "output" not in data
    assert "E11" not in body.decode() and "diabetes" not in body.decode()
    assert data["id"] == prediction["id"] and data["status"] == "succeeded" and data["kind"] == "prediction"
    assert data["urls"]["get"].endswith(f"/v1/predictions/{prediction['id']}") and data["metrics"]["attempts"] == 1
    [delivery] = deliveries(app)
    assert (delivery.state, delivery.status_code, delivery.attempts, delivery.host) == (
        "delivered", 200, 1, "127.0.0.1")
    assert headers["webhook-id"] == delivery.id


def test_start_is_sent_only_when_asked_for(app, client, key, receiver):
    both = submit(client, key, webhook=f"{receiver.url}/a", webhook_events_filter=["start", "completed"])
    start_only = submit(client, key, webhook=f"{receiver.url}/b", webhook_events_filter=["start"])
    for prediction in (both, start_only):
        run(app, prediction["id"], FakeUpstream())
    assert sorted((d.prediction_id == both["id"], d.event) for d in deliveries(app)) == [
        (False, "prediction.start"), (True, "prediction.completed"), (True, "prediction.start")]
    deliver_all(app)
    start = next(json.loads(body) for body in (hook.body for hook in receiver.received) if json.loads(body)["type"] == "prediction.start")
    assert start["data"]["status"] == "running"


def test_cancel_and_embeddings_deliver_completed(app, client, key, receiver):
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    assert client.post(f"/v1/predictions/{prediction['id']}/cancel", headers=bearer(key)).status_code == 200
    embedding = client.post("/v1/embeddings", json={"history": CANONICAL_BODY["history"], "webhook": f"{receiver.url}/e"},
                            headers=bearer(key)).get_json()
    assert embedding["status"] == "queued"
    assert deliver_all(app) == ["delivered"]
    assert json.loads(receiver.received[0].body)["data"]["status"] == "canceled"


def test_a_batch_sends_item_events_and_one_batch_completed(app, client, key, receiver):
    response = client.post("/v1/batches", json={"predictions": [CANONICAL_BODY, CANONICAL_BODY],
                                                 "webhook": f"{receiver.url}/batch"}, headers=bearer(key))
    assert response.status_code == 202, response.get_json()
    batch = response.get_json()
    for prediction_id in batch["predictions"]:
        run(app, prediction_id, FakeUpstream())
        run(app, prediction_id, FakeUpstream())  # a duplicate run changes nothing
    events = sorted(d.event for d in deliveries(app))
    assert events == ["batch.completed", "prediction.completed", "prediction.completed"]
    deliver_all(app)
    done = next(json.loads(body) for body in (hook.body for hook in receiver.received) if json.loads(body)["type"] == "batch.completed")
    assert done["data"]["id"] == batch["id"] and done["data"]["counts"]["succeeded"] == 2


def test_a_repeated_attempt_job_sends_once(app, client, key, receiver):
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    run(app, prediction["id"], FakeUpstream())
    [(delivery_id, attempt)] = queued_attempts(app)
    with app.app_context():
        assert attempt_delivery(delivery_id, attempt) == "delivered"
        assert attempt_delivery(delivery_id, attempt) == "skipped"
    assert len(receiver.received) == 1


# ------------------------------------------------------------------ retries and refusals


def test_the_backoff_doubles_from_10_s_capped_at_an_hour_for_about_a_day():
    assert [retry_delay(n, 10, 3600) for n in (1, 2, 3, 9, 10, 40)] == [10, 20, 40, 2560, 3600, 3600]
    schedule = retry_schedule(10, 3600, 24 * 3600)
    assert schedule[:3] == [10, 30, 70]
    assert 23 * 3600 < schedule[-1] <= 24 * 3600 and len(schedule) == 31


def test_a_non_2xx_answer_is_retried_later_with_rq_scheduling(app, client, key, receiver):
    receiver.answer("/hook", 500)
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    run(app, prediction["id"], FakeUpstream())
    assert deliver_all(app) == ["retrying"]
    [delivery] = deliveries(app)
    assert (delivery.state, delivery.status_code, delivery.attempts, delivery.last_error) == (
        "pending", 500, 1, "http_500")
    assert timedelta(seconds=9) < delivery.next_attempt_at - delivery.last_attempt_at <= timedelta(seconds=11)
    with app.app_context():
        scheduled = ScheduledJobRegistry(queue=get_queue()).get_job_ids()
        assert scheduled == [f"webhook-{delivery.id}-2"]
        assert attempt_delivery(delivery.id, 2) == "delivered"
    assert deliveries(app)[0].state == "delivered" and deliveries(app)[0].attempts == 2


def test_after_the_retry_window_a_delivery_is_given_up_and_recorded(app, client, key, receiver):
    app.config["WEBHOOK_RETRY_SECONDS"] = 5  # below the first backoff: the first failure is the last
    receiver.answer("/hook", 503)
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    run(app, prediction["id"], FakeUpstream())
    assert deliver_all(app) == ["given_up"]
    [delivery] = deliveries(app)
    assert (delivery.state, delivery.status_code, delivery.next_attempt_at) == ("given_up", 503, None)
    with app.app_context():
        assert ScheduledJobRegistry(queue=get_queue()).get_job_ids() == []


def test_connection_errors_are_retried(app, client, key):
    prediction = submit(client, key, webhook="http://127.0.0.1:9/hook")  # discard port: nothing listens
    run(app, prediction["id"], FakeUpstream())
    assert deliver_all(app) == ["retrying"]
    assert deliveries(app)[0].last_error == "ConnectionError"


def test_allowed_hosts_reach_a_loopback_receiver_under_production_rules(app, client, key, receiver):
    assert ProductionConfig({"WEBHOOK_ALLOWED_HOSTS": " Localhost, hooks.internal ,"}).WEBHOOK_ALLOWED_HOSTS == {
        "localhost", "hooks.internal"}
    app.config.update(WEBHOOK_ALLOW_HTTP=False, WEBHOOK_ALLOW_PRIVATE=False, WEBHOOK_ALLOWED_HOSTS=frozenset())
    named = receiver.url.replace("127.0.0.1", "localhost") + "/hook"
    response = client.post("/v1/predictions", json={**CANONICAL_BODY, "webhook": named}, headers=bearer(key))
    assert response.status_code == 422  # plain http, in production
    app.config["WEBHOOK_ALLOWED_HOSTS"] = frozenset({"localhost"})
    prediction = submit(client, key, webhook=named)
    run(app, prediction["id"], FakeUpstream())
    assert deliver_all(app) == ["delivered"]  # the loopback peer is let through for this name only
    assert [hook.path for hook in receiver.received] == ["/hook"]
    by_address = client.post("/v1/predictions", json={**CANONICAL_BODY, "webhook": f"{receiver.url}/other"},
                             headers=bearer(key))
    assert by_address.status_code == 422  # the same receiver by its address is not on the list


@pytest.mark.parametrize("setting", ["WEBHOOK_ALLOW_PRIVATE", "WEBHOOK_ALLOW_HTTP"])
def test_a_delivery_the_policy_refuses_is_recorded_and_not_retried(app, client, key, receiver, setting):
    prediction = submit(client, key, webhook=receiver.url.replace("127.0.0.1", "localhost") + "/hook")
    run(app, prediction["id"], FakeUpstream())
    app.config[setting] = False  # changed after submission: the delivery checks again
    assert deliver_all(app) == ["refused"]
    assert receiver.received == []
    [delivery] = deliveries(app)
    assert (delivery.state, delivery.last_error, delivery.next_attempt_at) == ("refused", "refused", None)
    with app.app_context():
        assert ScheduledJobRegistry(queue=get_queue()).get_job_ids() == []


def test_overdue_pending_deliveries_are_queued_again(app, client, key, receiver):
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    run(app, prediction["id"], FakeUpstream())
    queued_attempts(app)  # the job is lost
    with app.app_context():
        assert requeue_stale_deliveries() == 0
        assert requeue_stale_deliveries(utcnow() + timedelta(minutes=10)) == 1
    assert deliver_all(app) == ["delivered"]


# ------------------------------------------------------------------ signing secrets


def test_after_rotation_both_secrets_sign_during_the_grace_period_then_only_the_new(app, client, accounts, receiver):
    user_id, key = accounts.create()
    old = secret_of(app, user_id)
    with app.app_context():
        rotated = rotate_signing_secret(user_id)
        new, grace_ends = rotated.secret, rotated.previous_expires_at
        assert signing_secrets(user_id) == [new, old]
        assert signing_secrets(user_id, grace_ends + timedelta(seconds=1)) == [new]
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    run(app, prediction["id"], FakeUpstream())
    deliver_all(app)
    headers, body = receiver.received[0].headers, receiver.received[0].body
    for secret in (old, new):
        Webhook(secret).verify(body, headers)
    app.config["WEBHOOK_SECRET_GRACE_SECONDS"] = 0
    with app.app_context():
        rotate_signing_secret(user_id)
        newest = signing_key(user_id).secret
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    run(app, prediction["id"], FakeUpstream())
    deliver_all(app)
    headers, body = receiver.received[1].headers, receiver.received[1].body
    Webhook(newest).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body, headers)


def test_the_secret_is_encrypted_at_rest(app, accounts):
    user_id, _ = accounts.create()
    secret = secret_of(app, user_id)
    with app.app_context():
        stored = db.session.execute(db.text("SELECT secret FROM webhook_signing_keys")).scalar_one()
    assert secret.startswith("whsec_") and secret not in stored and stored.startswith("gAAAAA")


# ------------------------------------------------------------------ account page, deletion, retention


def signed_in(client, accounts) -> tuple[int, str]:
    user_id, _ = accounts.create("hooker")
    page = client.get("/login")
    client.post("/login", data={"username": "hooker", "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    return user_id, csrf_token(client.get("/account").text)


def test_the_account_page_shows_the_secret_rotates_it_and_sends_a_test_event(app, client, accounts, receiver):
    user_id, token = signed_in(client, accounts)
    page = client.get("/account").text
    secret = secret_of(app, user_id)
    assert secret in page and "No deliveries yet." in page
    assert client.post("/account/webhooks/secret/rotate", data={"csrf_token": token}).status_code == 302
    page = client.get("/account").text
    assert secret_of(app, user_id) in page and 'data-testid="webhook-secret-grace"' in page
    response = client.post("/account/webhooks/test", data={"csrf_token": token, "url": f"{receiver.url}/test"})
    assert response.status_code == 302
    assert deliver_all(app) == ["delivered"]
    headers, body = receiver.received[0].headers, receiver.received[0].body
    assert Webhook(secret_of(app, user_id)).verify(body, headers)["type"] == "test"
    page = client.get("/account").text
    assert "<code>test</code>" in page and "127.0.0.1" in page and "badge-delivered" in page
    assert f"{receiver.url}/test" not in page  # the host only


@pytest.mark.parametrize(("url", "message"), [("not a url", "absolute"),
                                              ("https://u:p@example.org/", "credentials")])
def test_a_bad_test_url_is_shown_on_the_form(app, client, accounts, url, message):
    _, token = signed_in(client, accounts)
    response = client.post("/account/webhooks/test", data={"csrf_token": token, "url": url})
    assert response.status_code == 422 and message in response.text
    assert deliveries(app) == []


def test_the_webhook_forms_need_the_csrf_token(client, accounts):
    signed_in(client, accounts)
    assert client.post("/account/webhooks/secret/rotate").status_code == 400
    assert client.post("/account/webhooks/test", data={"url": "https://example.org/"}).status_code == 400


def test_deleting_the_account_removes_its_deliveries_and_secret(app, client, accounts, receiver):
    _, token = signed_in(client, accounts)
    client.post("/account/webhooks/test", data={"csrf_token": token, "url": f"{receiver.url}/test"})
    assert len(deliveries(app)) == 1
    page = client.get("/account/delete")
    response = client.post("/account/delete", data={"csrf_token": csrf_token(page.text), "password": PASSWORD,
                                                    "confirm_username": "hooker"})
    assert response.status_code == 302
    assert deliveries(app) == []
    with app.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM webhook_signing_keys")).scalar_one() == 0


def test_the_retention_purge_deletes_old_deliveries(app, client, key, receiver):
    prediction = submit(client, key, webhook=f"{receiver.url}/hook")
    run(app, prediction["id"], FakeUpstream())
    with app.app_context():
        assert purge_old_deliveries() == 0
        assert purge_old_deliveries(utcnow() + timedelta(days=31)) == 1
    assert deliveries(app) == [] and DeliveryState.PENDING.value == "pending"


def test_reencrypt_moves_signing_secrets_to_the_new_data_key(app, accounts):
    from pathlib import Path

    from cryptography.fernet import Fernet

    from proxyapp.crypto import DATA_KEY_FILE, parse_keys

    user_id, _ = accounts.create()
    secret = secret_of(app, user_id)
    old_key = (Path(app.instance_path) / DATA_KEY_FILE).read_text().strip()
    new_key = Fernet.generate_key().decode()
    app.extensions["fernet"] = parse_keys(f"{new_key},{old_key}")
    result = app.test_cli_runner().invoke(args=["data", "reencrypt"])
    assert "Re-encrypted 1 webhook signing secrets" in result.output
    app.extensions["fernet"] = parse_keys(new_key)  # the old key is retired
    assert secret_of(app, user_id) == secret
