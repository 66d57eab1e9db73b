"""Point 2 of issue 13: absolute links come from PUBLIC_URL, never from the client's Host header."""

from __future__ import annotations

import pytest

import config as settings
from config import ConfigError
from proxyapp import create_app
from tests.conftest import CANONICAL_BODY, PRODUCTION, Accounts, bearer, built_app

EVIL = {"Host": "evil.example"}


@pytest.fixture
def public_app(app_env, tmp_path, monkeypatch):
    with built_app({**app_env, "PUBLIC_URL": "https://proxy.example.org"}, tmp_path, monkeypatch) as application:
        yield application


def test_location_and_urls_use_public_url_not_host_header(public_app):
    _, key = Accounts(public_app).create()
    client = public_app.test_client()
    response = client.post("/v1/predictions", json=CANONICAL_BODY, headers={**bearer(key), **EVIL})
    assert response.status_code == 202
    body = response.get_json()
    assert response.headers["Location"] == f"https://proxy.example.org/v1/predictions/{body['id']}"
    assert body["urls"]["get"] == response.headers["Location"]
    assert body["urls"]["cancel"].startswith("https://proxy.example.org/v1/predictions/")
    assert "evil.example" not in response.get_data(as_text=True)
    polled = client.get(f"/v1/predictions/{body['id']}", headers={**bearer(key), **EVIL})
    assert "evil.example" not in polled.get_data(as_text=True)


def test_batch_location_uses_public_url(public_app):
    _, key = Accounts(public_app).create()
    response = public_app.test_client().post("/v1/batches", json={"predictions": [CANONICAL_BODY]},
                                             headers={**bearer(key), **EVIL})
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.headers["Location"].startswith("https://proxy.example.org/v1/batches/")
    assert "evil.example" not in response.get_data(as_text=True)


def test_https_redirect_uses_public_url(app_env, tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(settings.TestingConfig({**app_env, "PUBLIC_URL": "https://proxy.example.org",
                                            "FORCE_HTTPS": "1"}))
    response = application.test_client().get("/login?next=%2Faccount", base_url="http://evil.example")
    assert response.status_code == 301
    assert response.headers["Location"] == "https://proxy.example.org/login?next=%2Faccount"


def test_without_public_url_development_links_follow_the_request(client, accounts):
    _, key = accounts.create()
    response = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key))
    assert response.headers["Location"].startswith("http://localhost/v1/predictions/")


def test_production_refuses_other_hosts(tmp_path, monkeypatch, redis_url):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    from config import load_config
    env = {**PRODUCTION, "PUBLIC_URL": "https://proxy.example.org", "REDIS_URL": redis_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    application = create_app(load_config(env))
    client = application.test_client()
    assert client.get("/healthz", headers=EVIL, base_url="https://evil.example").status_code == 400
    assert client.get("/healthz", base_url="https://proxy.example.org").status_code == 200
    assert client.get("/healthz", base_url="http://127.0.0.1:8000").status_code == 200
    page = client.get("/login", base_url="https://evil.example")
    assert page.status_code == 400 and "evil.example" not in page.get_data(as_text=True)


def test_production_requires_public_url():
    from config import load_config
    with pytest.raises(ConfigError, match="^PUBLIC_URL is required in production$"):
        load_config({k: v for k, v in PRODUCTION.items() if k != "PUBLIC_URL"})


@pytest.mark.parametrize("value", ["proxy.example.org", "ftp://proxy.example.org", "https://x.example/app",
                                   "https://"])
def test_public_url_must_be_an_origin(value):
    from config import load_config
    with pytest.raises(ConfigError, match="PUBLIC_URL must be an origin"):
        load_config({"PUBLIC_URL": value})


@pytest.mark.parametrize("public_url", [None, "https://proxy.example.org"])
def test_prediction_urls_match_the_url_map_under_every_origin(app_env, tmp_path, monkeypatch, public_url):
    """The links built from a per-request template equal url_for's, and a new origin gets its own template."""
    from proxyapp.links import PREDICTION_LINKS, links_from, prediction_urls, public_url_for

    env = {**app_env, **({"PUBLIC_URL": public_url} if public_url else {})}
    with built_app(env, tmp_path, monkeypatch) as application, application.app_context():
        for origin in ("http://a.example", "https://b.example:8443/prefix"):  # a worker's payloads, one after another
            with links_from(origin):
                for prediction_id in ("01J0000000000000000000000A", "01J0000000000000000000000B"):
                    expected = {name: public_url_for(endpoint, prediction_id=prediction_id)
                                for name, endpoint in PREDICTION_LINKS}
                    assert prediction_urls(prediction_id) == expected
                    assert expected["get"].startswith(public_url or origin)
