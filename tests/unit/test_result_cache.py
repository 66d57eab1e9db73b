"""The result cache: identical requests of one account are answered from Redis, never across accounts."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from config import ConfigError, load_config
from proxyapp.extensions import db
from proxyapp.models import Prediction
from proxyapp.queue import get_queue, get_redis, redis_key
from proxyapp.services.predictions import result_cache as cache
from proxyapp.services.predictions.run import run_prediction
from proxyapp.services.upstream.client import UpstreamResult
from tests.conftest import CANONICAL_BODY, bearer
from tests.stack import ROOT

OUTPUT = {"predictions": [[{"code": "I10", "system": "ICD10CM", "display": "Essential hypertension"}]]}
MINIMAL_BODY = {"history": CANONICAL_BODY["history"]}  # the defaults make it identical to CANONICAL_BODY


class CountingUpstream:
    """Answers every call with OUTPUT and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, body, *, within=None) -> UpstreamResult:
        self.calls += 1
        return UpstreamResult(body=OUTPUT, elapsed_ms=5)


ACCEPT_CACHED = {"Cache-Control": "max-age=3600"}


def submit(client, key, body=CANONICAL_BODY, **headers):
    return client.post("/v1/predictions", json=body, headers={**bearer(key), **headers})


def run_to_success(app: Flask, client, key, body=CANONICAL_BODY) -> str:
    response = submit(client, key, body)
    assert response.status_code == 202, response.get_json()
    with app.app_context():
        assert run_prediction(response.get_json()["id"], CountingUpstream()) == "succeeded"
    return response.get_json()["id"]


def queued_jobs(app: Flask) -> int:
    with app.app_context():
        return get_queue().count


def cache_keys(app: Flask) -> list[str]:
    with app.app_context():
        return [key.decode() for key in get_redis().scan_iter(match=redis_key("cache", "*"))]


def test_identical_request_is_answered_from_the_cache(app, client, accounts):
    _, key = accounts.create()
    first_id = run_to_success(app, client, key)
    jobs_before = queued_jobs(app)
    response = submit(client, key, MINIMAL_BODY, **ACCEPT_CACHED)  # defaults applied, keys sorted before comparing
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "succeeded" and body["cached"] is True
    assert body["id"] != first_id
    assert body["output"] == OUTPUT
    assert body["metrics"]["attempts"] == 0
    assert queued_jobs(app) == jobs_before  # nothing queued, so no upstream call
    with app.app_context():
        assert db.session.get(Prediction, body["id"]).cached is True


def test_first_request_is_not_cached(client, accounts):
    _, key = accounts.create()
    body = submit(client, key).get_json()
    assert body["cached"] is False and body["kind"] == "prediction"


def test_a_different_body_misses(app, client, accounts):
    _, key = accounts.create()
    run_to_success(app, client, key)
    response = submit(client, key, {**CANONICAL_BODY, "num_predictions": 2})
    assert response.status_code == 202
    assert response.get_json()["cached"] is False


def test_no_cache_header_bypasses_the_lookup(app, client, accounts):
    _, key = accounts.create()
    run_to_success(app, client, key)
    jobs_before = queued_jobs(app)
    response = submit(client, key, **{"Cache-Control": "no-cache"})
    assert response.status_code == 202
    assert response.get_json()["cached"] is False
    assert queued_jobs(app) == jobs_before + 1


def test_the_cache_is_never_shared_across_accounts(app, client, accounts):
    _, alice = accounts.create()
    _, bob = accounts.create()
    run_to_success(app, client, alice)
    response = submit(client, bob)
    assert response.status_code == 202
    assert response.get_json()["cached"] is False


def test_key_names_are_hmacs_and_values_are_encrypted(app, client, accounts):
    user_id, key = accounts.create(username="cachealice")
    run_to_success(app, client, key)
    [name] = cache_keys(app)
    # The name is the deployment's prefix and one SHA-256 HMAC, nothing else: no account id,
    # no body (a digit string like the id may still occur in hex by chance, so check the shape).
    digest = name.removeprefix(redis_key_prefix(app))
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert redis_key_prefix(app) == f"proxyapp:{app.config['QUEUE_NAME']}:cache:"
    for clear in ("E11", "diabetes", "cachealice", "history", "num_predictions"):
        assert clear not in name, clear
    with app.app_context():
        value = get_redis().get(name).decode()
        assert "E11" not in value and "I10" not in value and "hypertension" not in value
        assert cache.cache_key(user_id, "prediction", CANONICAL_BODY) == name
        assert cache.cache_key(user_id + 1, "prediction", CANONICAL_BODY) != name
        assert cache.cache_key(user_id, "embedding", CANONICAL_BODY) != name


def redis_key_prefix(app: Flask) -> str:
    with app.app_context():
        return redis_key("cache", "")


def test_entries_expire_after_cache_ttl(app, client, accounts):
    _, key = accounts.create()
    run_to_success(app, client, key)
    [name] = cache_keys(app)
    with app.app_context():
        assert 0 < get_redis().ttl(name) <= app.config["CACHE_TTL"] == 3600


class TestDisabled:
    @pytest.fixture
    def app_env(self, app_env):
        app_env["CACHE_TTL"] = "0"
        return app_env

    def test_cache_ttl_0_stores_nothing_and_never_hits(self, app, client, accounts):
        _, key = accounts.create()
        run_to_success(app, client, key)
        assert cache_keys(app) == []
        response = submit(client, key, **ACCEPT_CACHED)
        assert response.status_code == 202
        assert response.get_json()["cached"] is False


def test_a_hit_does_not_need_pending_capacity(app, client, accounts):
    _user_id, key = accounts.create()
    run_to_success(app, client, key)
    with app.app_context():
        app.config["MAX_PENDING"] = 0
    assert submit(client, key, **ACCEPT_CACHED).status_code == 200
    assert submit(client, key, {**CANONICAL_BODY, "num_predictions": 3}, **ACCEPT_CACHED).status_code == 429


def test_cache_ttl_setting_is_validated_and_documented():
    assert load_config({"APP_ENV": "testing"}).CACHE_TTL == 3600
    assert load_config({"APP_ENV": "testing", "CACHE_TTL": "0"}).CACHE_TTL == 0
    with pytest.raises(ConfigError, match="CACHE_TTL"):
        load_config({"APP_ENV": "testing", "CACHE_TTL": "-1"})
    assert "\nCACHE_TTL=" in (ROOT / ".env.example").read_text()


def test_an_entry_under_a_retired_data_key_is_a_miss(app, client, accounts):
    user_id, key = accounts.create()
    with app.app_context():
        get_redis().set(cache.cache_key(user_id, "prediction", CANONICAL_BODY), "gAAAAAnot-a-valid-token")
    response = submit(client, key, **ACCEPT_CACHED)
    assert response.status_code == 202 and response.get_json()["cached"] is False


def test_the_same_body_twice_without_max_age_is_two_samples(app, client, accounts):
    """Predictions are sampled: a repeat is a new draw unless the client accepts a stored one."""
    _, key = accounts.create()
    run_to_success(app, client, key)
    jobs_before = queued_jobs(app)
    response = submit(client, key)
    assert response.status_code == 202 and response.get_json()["cached"] is False
    assert queued_jobs(app) == jobs_before + 1


def test_max_age_refuses_an_entry_older_than_it(app, client, accounts):
    _user_id, key = accounts.create()
    run_to_success(app, client, key)
    [name] = cache_keys(app)
    with app.app_context():
        get_redis().expire(name, app.config["CACHE_TTL"] - 120)  # stored two minutes ago
    assert submit(client, key, **{"Cache-Control": "max-age=60"}).get_json()["cached"] is False
    assert submit(client, key, **{"Cache-Control": "max-age=300"}).get_json()["cached"] is True


def test_max_age_0_and_no_cache_take_nothing_stored(app, client, accounts):
    _, key = accounts.create()
    run_to_success(app, client, key)
    for control in ("max-age=0", "no-cache", "no-cache, max-age=600"):
        assert submit(client, key, **{"Cache-Control": control}).get_json()["cached"] is False, control
