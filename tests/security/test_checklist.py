"""The security checklist (shared/guides/security.md), one test per requirement.

Test names read `test_<section>__<requirement>`. Requirements proven elsewhere are listed
at the end of this module with the tests that prove them.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rq.serializers import JSONSerializer

from proxyapp.extensions import db
from proxyapp.models import Prediction
from proxyapp.queue import get_queue
from proxyapp.services.keys.tokens import hash_key
from proxyapp.services.upstream.client import UpstreamClient
from tests.conftest import CANONICAL_BODY, PASSWORD, bearer, csrf_token

# Flask's test client defaults to PREFERRED_URL_SCHEME (https in production): say plain HTTP explicitly.
PLAIN = "http://proxy.example"
SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")


def database_dump(path: Path) -> str:
    """Every row of the SQLite database as SQL text, read around the app."""
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


# --- Keys, passwords, sessions -------------------------------------------------------------

def test_keys__database_holds_no_plaintext_key(app, accounts, tmp_path):
    _, key = accounts.create()
    dump = database_dump(tmp_path / "test.db")
    assert key not in dump and key[len("pxk_"):] not in dump
    assert hash_key(key) in dump


def test_keys__one_changed_character_is_401(client, accounts):
    _, key = accounts.create()
    typo = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]
    assert client.get("/v1/me", headers=bearer(typo)).status_code == 401


def test_passwords__seven_characters_rejected_sixty_four_accepted(client):
    def register(password):
        page = client.get("/register").get_data(as_text=True)
        return client.post("/register", data={"username": f"u{uuid.uuid4().hex[:8]}", "password": password,
                                              "confirm": password, "csrf_token": csrf_token(page)})

    assert register("x7" * 3 + "q").status_code == 422
    assert register(("quiet otter juggles " * 4)[:64]).status_code == 200
    assert register("aaaaaaaa").status_code == 422  # long enough, but zxcvbn scores it 0


def test_csrf__post_register_without_token_is_400(client):
    response = client.post("/register", data={"username": "mallory", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 400


def test_csrf__api_never_accepts_the_session_cookie(client, accounts):
    accounts.create("sessionuser")
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": "sessionuser", "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert client.get("/account").status_code == 200
    assert client.post("/v1/predictions", json=CANONICAL_BODY).status_code == 401


def test_sessions__cookie_is_httponly_samesite_lax_and_secure_in_production(production_app):
    config = production_app.config
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is True
    response = production_app.test_client().get("/login", base_url="https://proxy.example")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


# --- Transport and headers ----------------------------------------------------------------

def test_proxy__client_sent_forwarded_headers_are_ignored_without_a_trusted_proxy(production_app):
    client = production_app.test_client()
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    response = client.get("/v1/me", headers=spoofed, base_url=PLAIN)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "https_required"


def test_proxy__one_trusted_hop_is_honoured(tmp_path, redis_url, monkeypatch):
    from config import ProductionConfig
    from proxyapp import create_app
    from tests.security.conftest import production_env

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(ProductionConfig(production_env(tmp_path, redis_url, TRUSTED_PROXIES="1")))
    client = app.test_client()
    response = client.get("/v1/me", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
                          base_url=PLAIN)
    assert response.status_code == 401  # reached authentication: the request counts as HTTPS
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_https__api_over_plain_http_is_403_not_a_redirect(production_app):
    response = production_app.test_client().post("/v1/predictions", json=CANONICAL_BODY, base_url=PLAIN)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "https_required"
    assert "Location" not in response.headers


def test_https__form_posts_over_https_pass_the_csrf_referer_check(production_app):
    client = production_app.test_client()
    page = client.get("/login", base_url="https://proxy.example")
    assert page.headers["Referrer-Policy"] == "same-origin"  # browsers send our own Referer back to us
    response = client.post("/login", base_url="https://proxy.example",
                           headers={"Referer": "https://proxy.example/login"},
                           data={"username": "nobody", "password": "wrong password",
                                 "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 422  # reached the form: wrong credentials, not a CSRF refusal


def test_https__pages_redirect_to_https_and_hsts_is_one_year(production_app):
    client = production_app.test_client()
    redirected = client.get("/login", base_url=PLAIN)
    assert redirected.status_code == 301
    assert redirected.headers["Location"].startswith("https://")
    secure = client.get("/login", base_url="https://proxy.example")
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("path", ["/", "/v1/me", "/no-such-page", "/v1/no-such-route"])
def test_headers__security_headers_on_every_response(client, path):
    response = client.get(path)
    for header in SECURITY_HEADERS:
        assert header in response.headers, (path, header)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_headers__on_429_and_500_too(app, client):
    @app.get("/v1/explode-for-test")
    def explode():
        raise RuntimeError("boom")

    for _ in range(200):
        limited = client.get("/v1/me", headers=bearer("pxk_" + "z" * 49))
        if limited.status_code == 429:
            break
    assert limited.status_code == 429
    errored = app.test_client().get("/v1/explode-for-test")
    for response in (limited, errored):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_headers__csp_on_html_with_no_inline_script(client):
    response = client.get("/register")
    policy = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'"):
        assert directive in policy
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " onclick=" not in html


def test_headers__api_and_account_responses_are_not_stored(client, accounts):
    _, key = accounts.create()
    assert client.get("/v1/me", headers=bearer(key)).headers["Cache-Control"] == "no-store"
    assert client.get("/register").headers["Cache-Control"] == "no-store"


# --- Input and resources ------------------------------------------------------------------

def test_input__someone_elses_prediction_reads_and_cancels_as_404(client, accounts):
    _, owner = accounts.create()
    _, other = accounts.create()
    created = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(owner)).get_json()
    assert client.get(f"/v1/predictions/{created['id']}", headers=bearer(other)).status_code == 404
    assert client.post(f"/v1/predictions/{created['id']}/cancel", headers=bearer(other)).status_code == 404


def test_input__server_owned_status_field_is_422(client, accounts):
    _, key = accounts.create()
    response = client.post("/v1/predictions", json={**CANONICAL_BODY, "status": "succeeded"}, headers=bearer(key))
    assert response.status_code == 422


def test_input__one_byte_over_max_content_length_is_413(app, client, accounts):
    _, key = accounts.create()
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/v1/predictions", data=b"x" * (limit + 1), headers=bearer(key),
                           content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_input__rq_uses_the_json_serializer_not_pickle(app):
    with app.app_context():
        assert get_queue().serializer is JSONSerializer


def test_input__upstream_calls_verify_tls():
    assert UpstreamClient("https://upstream.invalid", "k").session.verify is True


# --- Patient data at rest -----------------------------------------------------------------

def test_patient_data__raw_database_holds_no_code_or_display(app, client, accounts, tmp_path):
    _, key = accounts.create()
    marker = f"Marker display {uuid.uuid4().hex}"
    body = {"history": [{"code": "E11", "system": "ICD10CM", "display": marker}]}
    assert client.post("/v1/predictions", json=body, headers=bearer(key)).status_code == 202
    dump = database_dump(tmp_path / "test.db")
    assert marker not in dump and "E11" not in dump and "ICD10CM" not in dump


def test_patient_data__reencrypt_moves_rows_to_the_new_key(app, client, accounts):
    from proxyapp.crypto import DATA_KEY_FILE, parse_keys

    _, key = accounts.create()
    created = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()
    old_key = (Path(app.instance_path) / DATA_KEY_FILE).read_text().strip()
    new_key = Fernet.generate_key().decode()
    app.extensions["fernet"] = parse_keys(f"{new_key},{old_key}")  # rotation: new key first, old still readable
    result = app.test_cli_runner().invoke(args=["data", "reencrypt"])
    assert "Re-encrypted 1 predictions" in result.output
    app.extensions["fernet"] = parse_keys(new_key)  # the old key is retired
    with app.app_context():
        assert db.session.get(Prediction, created["id"]).input == CANONICAL_BODY


def test_patient_data__production_requires_an_encryption_key(tmp_path, redis_url):
    from config import ConfigError, load_config
    from tests.security.conftest import production_env

    env = production_env(tmp_path, redis_url)
    del env["DATA_ENCRYPTION_KEY"]
    with pytest.raises(ConfigError, match="DATA_ENCRYPTION_KEY"):
        load_config(env)


# Proven elsewhere:
# - brute force limits on login/registration (failures per client and username, per client,
#   per username): tests/unit/test_login_throttle.py, tests/unit/test_web.py
# - logout, password change, account deletion and "sign out everywhere" end sessions server
#   side (a replayed cookie is refused); idle and absolute lifetimes: tests/unit/test_sessions.py
# - rate limits on Redis, key_func on valid keys only, fail-closed, exact across processes:
#   tests/unit/test_rate_limits.py, tests/integration/test_rate_limits_processes.py
# - jobs survive kill -9, Redis outages, upstream faults: tests/integration/test_faults*.py
# - nothing sensitive in any log line of web and worker: tests/security/test_logs.py
