"""The /v1 API in-process: auth, envelope, validation and ownership (jobs are not run here)."""

import pytest

from tests.conftest import CANONICAL_BODY, PASSWORD, bearer, csrf_token


def test_missing_key_is_401_with_challenge_and_envelope(client):
    response = client.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    error = response.get_json()["error"]
    assert error["code"] == "unauthorized"
    assert error["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("mangle", [lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"), lambda k: k + "x",
                                    lambda k: "pxk_" + "0" * 49], ids=["typo", "extra-char", "unknown"])
def test_wrong_keys_are_401(client, accounts, mangle):
    _, key = accounts.create()
    response = client.get("/v1/me", headers=bearer(mangle(key)))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_bearer_and_x_api_key_are_both_accepted(client, accounts):
    _, key = accounts.create("alice")
    assert client.get("/v1/me", headers=bearer(key)).get_json()["account"]["username"] == "alice"
    assert client.get("/v1/me", headers={"X-API-Key": key}).status_code == 200


def test_me_reports_key_limits_and_usage_without_the_secret(client, accounts):
    _, key = accounts.create()
    body = client.get("/v1/me", headers=bearer(key)).get_json()
    assert body["key"]["prefix"] == key[:12]
    assert key not in str(body)
    assert body["limits"] == {"rate_limit": "100/minute", "poll_rate_limit": "1000/minute", "max_pending": 50}
    assert body["usage"]["pending"] == 0


def test_revoked_key_is_401(app, client, accounts):
    from proxyapp.extensions import db
    from proxyapp.models import ApiKey, utcnow
    from proxyapp.services.keys.tokens import hash_key

    _, key = accounts.create()
    with app.app_context():
        api_key = db.session.query(ApiKey).filter_by(key_hash=hash_key(key)).one()
        api_key.revoked_at = utcnow()
        db.session.commit()
    assert client.get("/v1/me", headers=bearer(key)).status_code == 401


def test_session_cookie_is_not_api_authentication(client, accounts):
    accounts.create("carol")
    page = client.get("/login")
    assert page.status_code == 200
    client.post("/login", data={"username": "carol", "password": PASSWORD,
                                "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert client.get("/account").status_code == 200
    assert client.get("/v1/me").status_code == 401


def test_submit_returns_202_with_location_retry_after_and_object(client, accounts):
    _, key = accounts.create()
    response = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key))
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued"
    assert body["input"] == CANONICAL_BODY
    assert body["output"] is None and body["error"] is None
    assert response.headers["Location"] == body["urls"]["get"]
    assert body["urls"]["cancel"] == body["urls"]["get"] + "/cancel"
    assert int(response.headers["Retry-After"]) >= 1
    assert body["metrics"] == {"queue_ms": None, "upstream_ms": None, "attempts": 0}
    assert body["created_at"].endswith("Z")


def test_defaults_are_filled_before_storing(client, accounts):
    _, key = accounts.create()
    response = client.post("/v1/predictions", json={"history": CANONICAL_BODY["history"]}, headers=bearer(key))
    assert response.get_json()["input"] == CANONICAL_BODY


def test_owner_reads_prediction_and_others_get_404(client, accounts):
    _, owner_key = accounts.create()
    _, other_key = accounts.create()
    created = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(owner_key)).get_json()
    assert client.get(f"/v1/predictions/{created['id']}", headers=bearer(owner_key)).status_code == 200
    other = client.get(f"/v1/predictions/{created['id']}", headers=bearer(other_key))
    missing = client.get("/v1/predictions/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=bearer(other_key))
    assert other.status_code == missing.status_code == 404
    assert other.get_json()["error"]["message"] == missing.get_json()["error"]["message"]


def test_unknown_field_is_422_with_field_details(client, accounts):
    _, key = accounts.create()
    response = client.post("/v1/predictions", json={**CANONICAL_BODY, "status": "succeeded"}, headers=bearer(key))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "status" in error["details"]


def test_invalid_item_reports_its_path(client, accounts):
    _, key = accounts.create()
    body = {"history": [{"code": "Z99.999", "system": "ICD10CM", "display": "nope"}]}
    details = client.post("/v1/predictions", json=body, headers=bearer(key)).get_json()["error"]["details"]
    assert "code" in details["history"]["0"]


def test_non_json_body_is_415(client, accounts):
    _, key = accounts.create()
    response = client.post("/v1/predictions", data="history=1", headers=bearer(key),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_malformed_json_is_400(client, accounts):
    _, key = accounts.create()
    response = client.post("/v1/predictions", data='{"history": [', headers=bearer(key),
                           content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_body_over_limit_is_413_envelope(client, accounts):
    _, key = accounts.create()
    response = client.post("/v1/predictions", data=b"{" + b" " * (1024 * 1024) + b"}", headers=bearer(key),
                           content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_unknown_route_is_404_envelope(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_405_with_allow(client, accounts):
    _, key = accounts.create()
    response = client.delete("/v1/me", headers=bearer(key))
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_unexpected_exception_is_500_envelope_without_internals(app, accounts):
    @app.get("/v1/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    _, key = accounts.create()
    response = app.test_client().get("/v1/boom-for-test", headers=bearer(key))
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)


def test_sane_incoming_request_id_is_echoed_and_odd_one_replaced(client):
    assert client.get("/", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    replaced = client.get("/", headers={"X-Request-ID": "bad id with spaces and / slashes"}).headers["X-Request-ID"]
    assert replaced != "bad id with spaces and / slashes" and len(replaced) == 32


def test_cancel_queued_then_409_when_finished(client, accounts):
    _, key = accounts.create()
    created = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()
    canceled = client.post(f"/v1/predictions/{created['id']}/cancel", headers=bearer(key))
    assert canceled.status_code == 200 and canceled.get_json()["status"] == "canceled"
    again = client.post(f"/v1/predictions/{created['id']}/cancel", headers=bearer(key))
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "conflict"


def _predictions_in_every_state() -> list:
    from datetime import timedelta

    from proxyapp.models import Prediction, utcnow

    now = utcnow()
    events = {"predictions": [[{"code": "E11.9", "system": "ICD10CM", "display": "T2DM"}] * 3] * 2}
    common = {"user_id": 1, "api_key_id": 1, "kind": "prediction", "input": dict(CANONICAL_BODY),
              "created_at": now, "attempts": 0, "runs": 0, "cached": False}
    return [
        Prediction(id="01J0000000000000000000000A", status="queued", **common),
        Prediction(id="01J0000000000000000000000B", status="running", **{**common, "attempts": 1, "runs": 1},
                   started_at=now + timedelta(milliseconds=12)),
        Prediction(id="01J0000000000000000000000C", status="succeeded", output=events, upstream_ms=480,
                   batch_id="01J000000000000000000000BA", started_at=now, completed_at=now + timedelta(seconds=1),
                   **{**common, "attempts": 2, "runs": 1}),
        Prediction(id="01J0000000000000000000000D", status="failed", error_code="upstream_timeout",
                   error_message="The upstream did not answer in time.", completed_at=now, **common),
        Prediction(id="01J0000000000000000000000E", status="succeeded", output={"embedding": [0.5, -1.0, 0.0]},
                   **{**common, "kind": "embedding", "input": {"history": CANONICAL_BODY["history"]}, "cached": True}),
        Prediction(id="01J0000000000000000000000F", status="canceled", completed_at=now, **{**common, "input": None}),
    ]


@pytest.mark.parametrize("schema_name", ["PredictionSchema", "PredictionSummarySchema"])
def test_the_direct_dump_equals_marshmallows_field_by_field_dump(app, schema_name):
    """PredictionSchema builds its output directly; the result is exactly what marshmallow's own dump makes."""
    from marshmallow import Schema

    from proxyapp import schemas

    schema = getattr(schemas, schema_name)()
    with app.test_request_context(base_url="https://proxy.example.org"):
        objects = _predictions_in_every_state()
        for prediction in objects:
            assert schema.dump(prediction) == Schema.dump(schema, prediction)
        assert schema.dump(objects, many=True) == Schema.dump(schema, objects, many=True)
        page = schemas.PredictionPageSchema().dump({"data": objects, "next_cursor": None})
        assert page["data"] == Schema.dump(schemas.PredictionSchema(), objects, many=True)
