"""The upstream simulator speaks GenHealth's protocol and injects faults on demand."""

from __future__ import annotations

import json
import logging
import math
import re
import time

import pytest

from simulator import create_app, vocabulary
from simulator.settings import DEFAULT_API_KEY, Settings
from simulator.validation import canonical_digest
from tests.conftest import CANONICAL_BODY

KEY = "gh_s_k-test-key"
TOKEN = {"Authorization": f"Token {KEY}"}
BEARER = {"Authorization": f"Bearer {KEY}"}
CANONICAL = CANONICAL_BODY  # upstream.md's canonical example
SYSTEMS = {"age", "gender", "timegap", "ICD10CM", "ICD10PCS", "CPT4", "HCPCS", "NDC", "RXNORM-FREETEXT"}


@pytest.fixture
def settings() -> Settings:
    return Settings(api_key=KEY, hang_seconds=0.05)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def control(client):
    """Change the simulator's knobs or script through its control API."""

    def send(path: str, body: dict, method: str = "post") -> dict:
        response = getattr(client, method)(f"/_control{path}", json=body, headers=TOKEN)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return send


def predict(client, body=CANONICAL, headers=TOKEN, path="/predict"):
    return client.post(path, json=body, headers=headers)


def is_prediction(response) -> bool:
    try:
        return "predictions" in json.loads(response.get_data())
    except ValueError:
        return False


def with_changes(**changes) -> dict:
    return {**CANONICAL, **changes}


# Settings


def test_settings_defaults():
    settings = Settings.from_env({})
    assert settings.api_key == DEFAULT_API_KEY == "gh_s_k-simulator-development-key"
    assert (settings.latency_ms, settings.jitter_ms, settings.retry_after) == (0, 0, 1)
    assert settings.hang_seconds == 30 and settings.fault_rate == 0
    assert settings.auth_scheme == "any"


def test_settings_read_from_environment():
    env = {
        "SIMULATOR_API_KEY": "gh_s_k-other",
        "SIMULATOR_AUTH_SCHEME": "bearer",
        "SIMULATOR_LATENCY_MS": "250",
        "SIMULATOR_JITTER_MS": "50",
        "SIMULATOR_RATE_429": "0.1",
        "SIMULATOR_RATE_5XX": "0.2",
        "SIMULATOR_RATE_TIMEOUT": "0.05",
        "SIMULATOR_RATE_MALFORMED": "0.05",
        "SIMULATOR_RETRY_AFTER": "7",
        "SIMULATOR_HANG_SECONDS": "2.5",
    }
    settings = Settings.from_env(env)
    assert settings == Settings(
        api_key="gh_s_k-other",
        auth_scheme="Bearer",
        latency_ms=250,
        jitter_ms=50,
        rate_429=0.1,
        rate_5xx=0.2,
        rate_timeout=0.05,
        rate_malformed=0.05,
        retry_after=7,
        hang_seconds=2.5,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIMULATOR_LATENCY_MS", "fast"),
        ("SIMULATOR_LATENCY_MS", "1.5"),
        ("SIMULATOR_JITTER_MS", "-1"),
        ("SIMULATOR_RATE_429", "1.5"),
        ("SIMULATOR_RATE_5XX", "nan"),
        ("SIMULATOR_RETRY_AFTER", "soon"),
        ("SIMULATOR_HANG_SECONDS", "inf"),
        ("SIMULATOR_AUTH_SCHEME", "Basic"),
    ],
)
def test_invalid_environment_names_the_variable(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_fault_rates_must_not_add_up_past_one():
    with pytest.raises(ValueError, match="SIMULATOR_RATE_429"):
        Settings.from_env({"SIMULATOR_RATE_429": "0.6", "SIMULATOR_RATE_5XX": "0.6"})


@pytest.mark.parametrize(
    "changes",
    [{"api_key": "x"}, {"unknown": 1}, {"latency_ms": "10"}, {"latency_ms": 1.5}, {"rate_429": True}],
)
def test_runtime_updates_reject_bad_changes(changes):
    with pytest.raises(ValueError):
        Settings().updated(changes)


# Vocabulary


def test_vocabulary_uses_real_icd10cm_descriptions():
    concepts = vocabulary.concepts("ICD10CM")
    import simple_icd_10_cm as icd10cm  # after the vocabulary, which silences its import warning

    assert len(concepts) >= 40
    for concept in concepts:
        assert icd10cm.is_valid_item(concept.code)
        assert concept.display == icd10cm.get_description(concept.code)


@pytest.mark.parametrize(
    ("system", "pattern"),
    [
        ("timegap", r"\d\d-\d\d-month"),
        ("ICD10PCS", r"[0-9A-HJ-NP-Z]{7}"),
        ("CPT4", r"\d{4}[0-9F]"),
        ("HCPCS", r"[A-V]\d{4}"),
        ("NDC", r"\d{11}"),
        ("RXNORM-FREETEXT", r"[a-z ]+"),
    ],
)
def test_vocabulary_codes_have_their_systems_shape(system, pattern):
    concepts = vocabulary.concepts(system)
    assert concepts
    for concept in concepts:
        assert re.fullmatch(pattern, concept.code) and concept.display and concept.system == system


def test_vocabulary_free_text_systems_repeat_the_code_as_display():
    for system in ("timegap", "RXNORM-FREETEXT"):
        assert all(concept.code == concept.display for concept in vocabulary.concepts(system))
    assert ("A4452", "Tape, waterproof, per 18 square inches") in {
        (concept.code, concept.display) for concept in vocabulary.concepts("HCPCS")
    }


# Health and authentication


def test_healthz_needs_no_key(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Token wrong"}, {"Authorization": f"Basic {KEY}"}, {"Authorization": KEY}],
)
def test_missing_or_wrong_key_is_rejected_drf_style(client, headers):
    response = predict(client, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"detail": "Invalid token."}
    assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("headers", [TOKEN, BEARER, {"Authorization": f"bearer  {KEY}"}])
def test_both_token_and_bearer_schemes_are_accepted(client, headers):
    assert predict(client, headers=headers).status_code == 200


@pytest.mark.parametrize("settings", [Settings(api_key=KEY, auth_scheme="Bearer")])
def test_auth_scheme_setting_restricts_the_scheme(client):
    assert predict(client, headers=TOKEN).status_code == 401
    assert predict(client, headers=BEARER).status_code == 200


# /predict


def test_predict_answers_the_canonical_example(client):
    response = predict(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["history"] == CANONICAL["history"]
    [future] = body["predictions"]
    assert 5 <= len(future) <= 10
    for position, item in enumerate(future):
        assert set(item) == {"code", "system", "display"}
        assert all(isinstance(value, str) and value for value in item.values())
        assert item["system"] in SYSTEMS
        assert (item["system"] == "timegap") == (position % 2 == 0)


def test_predict_is_deterministic_per_body(client):
    first = predict(client, with_changes(num_predictions=3)).get_json()
    assert predict(client, with_changes(num_predictions=3)).get_json() == first
    assert predict(client, with_changes(num_predictions=3, generation_length=11)).get_json() != first


@pytest.mark.parametrize(("count", "length"), [(1, 1), (3, 10), (20, 256)])
def test_predict_returns_one_future_per_requested_prediction(client, count, length):
    futures = predict(client, with_changes(num_predictions=count, generation_length=length)).get_json()["predictions"]
    assert len(futures) == count
    assert all(math.ceil(length / 2) <= len(future) <= length for future in futures)
    assert len({json.dumps(future) for future in futures}) == count or length == 1


def test_predictions_revisit_chronic_conditions_and_draw_from_the_vocabulary(client):
    futures = predict(client, with_changes(num_predictions=20, generation_length=40)).get_json()["predictions"]
    items = [item for future in futures for item in future]
    codes = {item["code"] for item in items}
    assert {"E11", "E11.3551"} & codes
    assert {"ICD10CM", "RXNORM-FREETEXT", "CPT4", "HCPCS"} <= {item["system"] for item in items}


def test_predict_defaults_optional_fields(client):
    body = {"history": CANONICAL["history"]}
    futures = predict(client, body).get_json()["predictions"]
    assert len(futures) == 1 and 5 <= len(futures[0]) <= 10


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({}, "history"),
        ({"history": []}, "history"),
        ({"history": "E11"}, "history"),
        ({"history": ["E11"]}, "history[0]"),
        ({"history": [{"code": "E11", "system": "ICD10CM"}]}, "history[0].display"),
        ({"history": [{"code": 11, "system": "ICD10CM", "display": "x"}]}, "history[0].code"),
        (with_changes(num_predictions="1"), "num_predictions"),
        (with_changes(num_predictions=True), "num_predictions"),
        (with_changes(num_predictions=1.5), "num_predictions"),
        (with_changes(num_predictions=0), "num_predictions"),
        (with_changes(num_predictions=21), "num_predictions"),
        (with_changes(generation_length=257), "generation_length"),
        (with_changes(generation_length=None), "generation_length"),
        (with_changes(inference_threshold=1.5), "inference_threshold"),
        (with_changes(inference_temperature="hot"), "inference_temperature"),
        ([CANONICAL], "object"),
    ],
)
def test_predict_rejects_bad_bodies_naming_the_problem(client, body, mentions):
    response = predict(client, body)
    assert response.status_code == 400
    assert mentions in response.get_json()["detail"]


def test_predict_rejects_text_that_is_not_json(client):
    response = client.post("/predict", data="{not json", content_type="application/json", headers=TOKEN)
    assert response.status_code == 400 and "JSON parse error" in response.get_json()["detail"]


def test_predict_wants_a_json_content_type(client):
    response = client.post("/predict", data=json.dumps(CANONICAL), content_type="text/plain", headers=TOKEN)
    assert response.status_code == 415 and "detail" in response.get_json()


def test_unknown_routes_and_methods_answer_json(client):
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.get_json()["detail"]
    response = client.get("/predict", headers=TOKEN)
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


# /embeddings


def test_embeddings_are_deterministic_unit_vectors(client):
    first = predict(client, {"history": CANONICAL["history"]}, path="/embeddings")
    assert first.status_code == 200
    vector = first.get_json()["embedding"]
    assert len(vector) == 64 and all(isinstance(value, float) for value in vector)
    assert math.isclose(sum(value * value for value in vector), 1.0)
    again = predict(client, {"history": CANONICAL["history"]}, path="/embeddings").get_json()["embedding"]
    assert again == vector
    other = predict(client, {"history": CANONICAL["history"][:2]}, path="/embeddings").get_json()
    assert other["embedding"] != vector


def test_embeddings_check_key_and_history(client):
    assert predict(client, CANONICAL, headers={}, path="/embeddings").status_code == 401
    response = predict(client, {"history": [{}]}, path="/embeddings")
    assert response.status_code == 400 and "history[0]" in response.get_json()["detail"]


# Latency and faults


@pytest.mark.parametrize("settings", [Settings(api_key=KEY, latency_ms=60)])
def test_latency_delays_each_answer(client):
    started = time.monotonic()
    assert predict(client).status_code == 200
    assert time.monotonic() - started >= 0.06


def test_jitter_stays_within_bounds(app, control):
    control("", {"latency_ms": 100, "jitter_ms": 40}, method="put")
    state = app.extensions["simulator"]
    delays = [state.delay_seconds() for _ in range(200)]
    assert all(0.06 <= delay <= 0.14 for delay in delays) and len(set(delays)) > 1


@pytest.mark.parametrize(
    ("token", "status"),
    [("ok", 200), ("400", 400), ("401", 401), ("403", 403), ("429", 429), ("500", 500),
     ("502", 502), ("503", 503), ("504", 504), ("timeout", 504), ("malformed", 200)],
)  # fmt: skip
def test_each_scripted_outcome(client, control, token, status):
    control("/script", {"responses": [token]})
    response = predict(client)
    assert response.status_code == status
    assert predict(client).status_code == 200


def test_throttling_and_unavailability_carry_retry_after(client, control):
    control("", {"retry_after": 7}, method="put")
    control("/script", {"responses": ["429", "503", "500"]})
    throttled, unavailable, failed = predict(client), predict(client), predict(client)
    assert throttled.get_json() == {"detail": "Request was throttled."}
    assert throttled.headers["Retry-After"] == unavailable.headers["Retry-After"] == "7"
    assert "Retry-After" not in failed.headers


def test_timeout_hangs_for_hang_seconds(client, control):
    control("", {"hang_seconds": 0.2}, method="put")
    control("/script", {"responses": ["timeout"]})
    started = time.monotonic()
    assert predict(client).status_code == 504
    assert time.monotonic() - started >= 0.2


def test_malformed_body_is_not_json(client, control):
    control("/script", {"responses": ["malformed"]})
    response = predict(client)
    assert response.status_code == 200 and response.mimetype == "application/json"
    with pytest.raises(ValueError):
        json.loads(response.get_data())


def test_script_is_consumed_in_order_across_endpoints(client, control):
    assert control("/script", {"responses": ["429", "500"]}) == {"queued": 2}
    assert control("/script", {"responses": ["503"]}) == {"queued": 3}
    statuses = [predict(client).status_code, predict(client, path="/embeddings").status_code]
    statuses += [predict(client).status_code, predict(client).status_code]
    assert statuses == [429, 500, 503, 200]


@pytest.mark.parametrize(
    ("knob", "statuses"),
    [("rate_429", {429}), ("rate_5xx", {500, 502, 503}), ("rate_timeout", {504}), ("rate_malformed", {200})],
)
def test_fault_rates_apply_to_every_call_at_one(client, control, knob, statuses):
    control("", {knob: 1}, method="put")
    responses = [predict(client) for _ in range(8)]
    assert {response.status_code for response in responses} <= statuses
    assert not any(is_prediction(response) for response in responses)


@pytest.mark.parametrize("settings", [Settings(api_key=KEY, rate_429=0.5, rate_5xx=0.5)])
def test_scripted_ok_beats_random_faults(client, control):
    control("/script", {"responses": ["ok"]})
    assert predict(client).status_code == 200


# Control API


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ""), ("put", ""), ("post", "/script"), ("get", "/stats"), ("post", "/reset")],
)
def test_control_api_needs_the_key(client, method, path):
    response = getattr(client, method)(f"/_control{path}", json={})
    assert response.status_code == 401


def test_control_updates_and_shows_knobs(client, control):
    shown = control("", {"latency_ms": 5, "rate_429": 0.25}, method="put")
    assert shown["latency_ms"] == 5 and shown["rate_429"] == 0.25 and "api_key" not in shown
    assert client.get("/_control", headers=TOKEN).get_json() == shown


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("", "put", {"api_key": "stolen"}),
        ("", "put", {"rate_429": 2}),
        ("", "put", {"rate_429": 0.7, "rate_5xx": 0.7}),
        ("/script", "post", {"responses": ["418"]}),
        ("/script", "post", {"responses": "429"}),
    ],
)
def test_control_rejects_bad_requests(client, path, method, body):
    response = getattr(client, method)(f"/_control{path}", json=body, headers=TOKEN)
    assert response.status_code == 400 and response.get_json()["detail"]
    assert client.get("/_control/stats", headers=TOKEN).get_json()["script_remaining"] == 0


def test_stats_count_calls_statuses_and_bodies(client, control):
    control("/script", {"responses": ["429"]})
    predict(client)
    predict(client, dict(reversed(list(CANONICAL.items()))))
    predict(client, {"history": CANONICAL["history"]}, path="/embeddings")
    predict(client, headers={})
    client.get("/healthz")
    stats = client.get("/_control/stats", headers=TOKEN).get_json()
    assert stats["calls"] == {"predict": 3, "embeddings": 1}
    assert stats["statuses"] == {"429": 1, "200": 2, "401": 1}
    assert stats["bodies"][canonical_digest(CANONICAL)] == 3
    assert sum(stats["bodies"].values()) == 4


def test_reset_restores_settings_and_clears_script_and_stats(client, control, settings):
    control("", {"latency_ms": 5, "retry_after": 9}, method="put")
    control("/script", {"responses": ["500", "500"]})
    predict(client)
    assert control("/reset", {}) == {"status": "reset"}
    assert client.get("/_control", headers=TOKEN).get_json() == settings.public()
    stats = client.get("/_control/stats", headers=TOKEN).get_json()
    assert stats == {"calls": {}, "statuses": {}, "bodies": {}, "script_remaining": 0}
    assert predict(client).status_code == 200


def test_access_log_has_no_patient_data(client, caplog):
    with caplog.at_level(logging.INFO, logger="simulator"):
        predict(client)
        predict(client, {"history": [{"code": "E11"}]})
    assert "POST /predict 200" in caplog.text and "POST /predict 400" in caplog.text
    assert "E11" not in caplog.text and "diabetes" not in caplog.text
