"""Configuration: environments, defaults and production refusals."""

import pytest

from config import (
    DEV_REDIS_URL,
    DEV_SECRET_KEY,
    DEV_UPSTREAM_API_KEY,
    DEV_UPSTREAM_URL,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    load_config,
)
from tests.conftest import PRODUCTION


def test_development_defaults_use_embedded_services():
    config = load_config({})
    assert isinstance(config, DevelopmentConfig)
    assert config.REDIS_URL == DEV_REDIS_URL
    assert config.UPSTREAM_URL == DEV_UPSTREAM_URL
    assert config.UPSTREAM_API_KEY == DEV_UPSTREAM_API_KEY
    assert config.RATE_LIMIT == "100/minute"
    assert config.POLL_RATE_LIMIT == "1000/minute"
    assert config.MAX_PENDING == 50 and config.MAX_HISTORY == 512
    assert config.MAX_CONTENT_LENGTH == 1024 * 1024
    assert not config.FORCE_HTTPS


def test_complete_production_config_loads():
    config = load_config(PRODUCTION)
    assert isinstance(config, ProductionConfig)
    assert config.FORCE_HTTPS and config.SESSION_COOKIE_SECURE
    assert config.PREFERRED_URL_SCHEME == "https"


@pytest.mark.parametrize(
    "name", ["SECRET_KEY", "DATABASE_URL", "DATA_ENCRYPTION_KEY", "REDIS_URL", "UPSTREAM_URL", "UPSTREAM_API_KEY"]
)
def test_production_refuses_missing_required_variable(name):
    env = {key: value for key, value in PRODUCTION.items() if key != name}
    with pytest.raises(ConfigError, match=name):
        load_config(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", DEV_SECRET_KEY),
        ("REDIS_URL", DEV_REDIS_URL),
        ("UPSTREAM_URL", DEV_UPSTREAM_URL),
        ("UPSTREAM_API_KEY", DEV_UPSTREAM_API_KEY),
    ],
)
def test_production_refuses_development_defaults(name, value):
    with pytest.raises(ConfigError, match=name):
        load_config({**PRODUCTION, name: value})


def test_production_refuses_short_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({**PRODUCTION, "SECRET_KEY": "short"})


def test_custom_upstream_needs_its_key_in_every_environment():
    with pytest.raises(ConfigError, match="UPSTREAM_API_KEY"):
        load_config({"UPSTREAM_URL": "https://api.genhealth.ai"})


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"MAX_PENDING": "many"}, "MAX_PENDING"),
        ({"STRICT_CODES": "maybe"}, "STRICT_CODES"),
        ({"UPSTREAM_AUTH_SCHEME": "Basic"}, "UPSTREAM_AUTH_SCHEME"),
        ({"RATE_LIMIT": "lots"}, "RATE_LIMIT"),
        ({"FINISHED_JOB_TTL": "-1"}, "FINISHED_JOB_TTL"),
        ({"FINISHED_JOB_TTL": "an hour"}, "FINISHED_JOB_TTL"),
    ],
)
def test_invalid_values_name_the_variable(env, name):
    with pytest.raises(ConfigError, match=name):
        load_config(env)


def test_poll_limit_scales_rate_limit():
    assert load_config({"RATE_LIMIT": "20/second"}).POLL_RATE_LIMIT == "200/second"


@pytest.mark.parametrize("value", ["not-a-key", "lIHy5ZZ6OBMkzHUJcc2DO6z5r4Z-bEmb0S_YWbE5pQE=,short"])
def test_an_unreadable_encryption_key_is_refused_when_the_settings_are_read(value):
    with pytest.raises(ConfigError, match="^DATA_ENCRYPTION_KEY must be comma-separated Fernet keys"):
        load_config({"DATA_ENCRYPTION_KEY": value})
    with pytest.raises(ConfigError, match="^DATA_ENCRYPTION_KEY must be comma-separated Fernet keys"):
        load_config({**PRODUCTION, "DATA_ENCRYPTION_KEY": value})
