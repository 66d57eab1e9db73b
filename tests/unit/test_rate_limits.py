"""Rate limits and the pending cap, in-process against a real Redis."""

from __future__ import annotations

import re
import time

import pytest
from redis import Redis
from sqlalchemy import event

from devtools.embedded_redis import free_port
from proxyapp.extensions import db
from proxyapp.models import User
from tests.conftest import CANONICAL_BODY, PASSWORD, Accounts, bearer, built_app, csrf_token

IETF_POLICY = re.compile(r'^"[a-z-]+";q=\d+;w=\d+(, "[a-z-]+";q=\d+;w=\d+)*$')
IETF_LIMIT = re.compile(r'^"[a-z-]+";r=\d+;t=\d+$')


@pytest.fixture
def app_env(app_env):
    """Small limits so the tests stay quick."""
    app_env.update({"RATE_LIMIT": "3/minute", "POLL_RATE_LIMIT": "6/minute", "ANONYMOUS_RATE_LIMIT": "4/minute"})
    return app_env


def submit(client, key, body=None):
    return client.post("/v1/predictions", json=body or CANONICAL_BODY, headers=bearer(key))


def test_submissions_beyond_the_limit_get_429_with_headers(client, accounts):
    _, key = accounts.create()
    responses = [submit(client, key) for _ in range(4)]
    assert [r.status_code for r in responses] == [202, 202, 202, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in responses)
    rejected = responses[-1]
    assert rejected.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(rejected.headers["Retry-After"]) <= 60
    assert int(rejected.headers["X-RateLimit-Reset"]) >= int(time.time())


def test_ietf_ratelimit_fields_are_well_formed(client, accounts):
    _, key = accounts.create()
    response = submit(client, key)
    assert IETF_POLICY.match(response.headers["RateLimit-Policy"]), response.headers["RateLimit-Policy"]
    assert '"submit-key";q=3;w=60' in response.headers["RateLimit-Policy"]
    assert '"submit-account";q=3;w=60' in response.headers["RateLimit-Policy"]
    assert IETF_LIMIT.match(response.headers["RateLimit"])
    assert ";r=2;" in response.headers["RateLimit"]


def test_more_keys_do_not_mean_more_quota(client, accounts):
    user_id, first = accounts.create()
    second = accounts.add_key(user_id).plaintext
    assert [submit(client, first).status_code for _ in range(3)] == [202] * 3
    response = submit(client, second)
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_another_account_is_unaffected(client, accounts):
    _, exhausted = accounts.create()
    _, other = accounts.create()
    for _ in range(4):
        submit(client, exhausted)
    assert submit(client, other).status_code == 202


def test_rejected_bodies_count_as_submissions(client, accounts):
    _, key = accounts.create()
    assert [submit(client, key, {"history": []}).status_code for _ in range(3)] == [422] * 3
    assert submit(client, key).status_code == 429


def test_polling_has_its_own_larger_window(client, accounts):
    _, key = accounts.create()
    for _ in range(4):
        submit(client, key)
    polls = [client.get("/v1/me", headers=bearer(key)) for _ in range(7)]
    assert [r.status_code for r in polls] == [200] * 6 + [429]
    assert polls[0].headers["X-RateLimit-Limit"] == "6"


def test_admin_override_raises_the_accounts_window(app, client, accounts):
    user_id, key = accounts.create()
    with app.app_context():
        db.session.get(User, user_id).rate_limit = "5/minute"
        db.session.commit()
    assert [submit(client, key).status_code for _ in range(6)] == [202] * 5 + [429]


def test_invalid_keys_are_limited_per_ip_and_leave_no_per_key_state(app, client, redis_url):
    fake_keys = [f"pxk_{'x' * 40}{n:09d}" for n in range(6)]
    statuses = [client.get("/v1/me", headers=bearer(k)).status_code for k in fake_keys]
    assert statuses == [401] * 4 + [429] * 2
    prefix = app.config["RATELIMIT_KEY_PREFIX"]
    stored = [k.decode() for k in Redis.from_url(redis_url).scan_iter(f"*{prefix}*")]
    assert stored and all("anonymous" in k for k in stored)
    assert not any("key:" in k for k in stored)


def test_client_sent_forwarded_for_does_not_change_identity(client):
    statuses = [client.get("/v1/me", headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code for n in range(6)]
    assert statuses == [401] * 4 + [429] * 2


def test_key_and_limits_cost_one_query(app, client, accounts):
    _, key = accounts.create()
    created = submit(client, key).get_json()
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        client.get(f"/v1/predictions/{created['id']}", headers=bearer(key))
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, selects  # the key with its owner, then the prediction
    assert "JOIN users" in selects[0]


def test_pending_cap_answers_too_many_pending(app_env, tmp_path, monkeypatch):
    with built_app({**app_env, "MAX_PENDING": "2", "RATE_LIMIT": "100/minute"}, tmp_path, monkeypatch) as application:
        _, key = Accounts(application).create()
        client = application.test_client()
        responses = [submit(client, key) for _ in range(3)]
    assert [r.status_code for r in responses] == [202, 202, 429]
    error = responses[-1].get_json()["error"]
    assert error["code"] == "too_many_pending"
    assert int(responses[-1].headers["Retry-After"]) >= 1


def test_usage_reports_window_and_daily_requests(client, accounts):
    _, key = accounts.create()
    submit(client, key)
    submit(client, key)
    usage = client.get("/v1/me", headers=bearer(key)).get_json()["usage"]["requests"]
    assert usage["window_used"] == 2 and usage["window_limit"] == "3/minute"
    assert usage["today"] == 2  # the /v1/me call itself is counted after its response is built


@pytest.mark.parametrize("path", ["/v1/me", "/v1/predictions"])
def test_redis_refusing_connections_gives_503_not_500(app_env, tmp_path, monkeypatch, path):
    with built_app({**app_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, tmp_path, monkeypatch) as application:
        _, key = Accounts(application).create()
        client = application.test_client()
        response = client.post(path, json=CANONICAL_BODY, headers=bearer(key)) if path.endswith("predictions") \
            else client.get(path, headers=bearer(key))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) >= 1


def test_login_with_redis_down_fails_closed_with_a_friendly_page(app_env, tmp_path, monkeypatch):
    with built_app({**app_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, tmp_path, monkeypatch) as application:
        Accounts(application).create("redisdown")
        client = application.test_client()
        page = client.get("/login").get_data(as_text=True)
        response = client.post("/login", data={"username": "redisdown", "password": PASSWORD,
                                               "csrf_token": csrf_token(page)})
        assert response.status_code == 503
        assert response.mimetype == "text/html"
        assert "temporarily unavailable" in response.get_data(as_text=True)
        assert int(response.headers["Retry-After"]) >= 1
        assert client.get("/account").status_code != 200  # not signed in


@pytest.fixture
def windows_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis goes away after the limiter's check: reading the windows for the headers fails."""
    from limits.errors import StorageError

    from proxyapp.extensions import limiter

    def unreadable(self):
        raise StorageError(ConnectionError("Redis went away"))

    monkeypatch.setattr(type(limiter), "current_limits", property(unreadable))


def test_redis_failing_while_an_accepted_submission_is_finished_keeps_the_202(client, accounts, windows_unreadable):
    _, key = accounts.create()
    response = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key))
    assert response.status_code == 202, response.get_data(as_text=True)  # queued: a 503 would be resubmitted
    assert response.is_json and "X-RateLimit-Limit" not in response.headers


def test_redis_failing_while_a_read_is_finished_answers_the_503_envelope(client, accounts, windows_unreadable):
    _, key = accounts.create()
    response = client.get("/v1/predictions", headers=bearer(key))
    assert response.status_code == 503 and response.is_json
    assert response.get_json()["error"]["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) >= 1 and response.headers["X-Request-ID"]


def test_redis_failing_while_a_refusal_is_finished_answers_the_503_envelope(client, accounts, windows_unreadable):
    _, key = accounts.create()
    response = client.post("/v1/predictions", json={"history": "not a list"}, headers=bearer(key))
    assert response.status_code == 503 and response.is_json
    assert int(response.headers["Retry-After"]) >= 1


def test_redis_failing_while_a_page_is_finished_answers_the_503_page(client, windows_unreadable):
    response = client.get("/login")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "temporarily unavailable" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1


def test_headers_read_no_window_after_the_view(client, accounts, monkeypatch):
    """Every window the headers need was read or hit before the view, so an outage after it cannot reach them."""
    from limits.storage import RedisStorage

    from proxyapp.services.limits import headers as ratelimits
    from tests.conftest import PASSWORD, csrf_token

    reads_after_view = []
    finishing = []
    original_read = RedisStorage.get_moving_window
    original_headers = ratelimits._add_headers

    def read(self, *args):
        if finishing:
            reads_after_view.append(args)
        return original_read(self, *args)

    def headers(response):
        finishing.append(True)
        try:
            return original_headers(response)
        finally:
            finishing.remove(True)

    monkeypatch.setattr(RedisStorage, "get_moving_window", read)
    monkeypatch.setattr(ratelimits, "_add_headers", headers)
    _, key = accounts.create()
    assert submit(client, key).headers["X-RateLimit-Limit"] == "3"
    assert client.get("/v1/predictions", headers=bearer(key)).headers["X-RateLimit-Limit"]
    page = client.get("/login").get_data(as_text=True)
    guess = client.post("/login", data={"username": "nobody", "password": "wrong", "csrf_token": csrf_token(page)})
    assert guess.status_code == 422 and guess.headers["X-RateLimit-Limit"]
    accounts.create("ada")
    page = client.get("/login").get_data(as_text=True)
    signed_in = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert signed_in.status_code == 302 and signed_in.headers["X-RateLimit-Limit"]  # windows only tested, not hit
    assert reads_after_view == []
