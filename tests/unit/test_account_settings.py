"""Settings of sessions and keys: defaults, refusals, and their documentation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config import ConfigError, load_config
from tests.stack import ROOT

ACCOUNT_SETTINGS = ["SESSION_IDLE_MINUTES", "SESSION_ABSOLUTE_HOURS", "KEY_ROTATION_GRACE_SECONDS",
                    "MAX_KEYS_PER_ACCOUNT", "LOGIN_RATE_LIMIT", "LOGIN_IP_RATE_LIMIT", "LOGIN_USERNAME_RATE_LIMIT"]


def test_defaults_idle_timeout_grace_cap_and_cookies():
    config = load_config({})
    assert config.SESSION_IDLE_MINUTES == 30 and config.PERMANENT_SESSION_LIFETIME == timedelta(minutes=30)
    assert config.SESSION_REFRESH_EACH_REQUEST
    assert config.KEY_ROTATION_GRACE_SECONDS == 24 * 3600 and config.MAX_KEYS_PER_ACCOUNT == 10
    assert config.SESSION_COOKIE_HTTPONLY and config.SESSION_COOKIE_SAMESITE == "Lax"
    assert not config.SESSION_COOKIE_SECURE and config.REMEMBER_COOKIE_DURATION == 0
    assert config.LOGIN_RATE_LIMIT == "5/minute" and config.LOGIN_IP_RATE_LIMIT == "10/minute"
    assert config.LOGIN_USERNAME_RATE_LIMIT == "50/hour"
    assert config.SESSION_ABSOLUTE_HOURS == 12 and config.SESSION_ABSOLUTE_LIFETIME == timedelta(hours=12)


def test_idle_timeout_sets_the_session_lifetime():
    assert load_config({"SESSION_IDLE_MINUTES": "5"}).PERMANENT_SESSION_LIFETIME == timedelta(minutes=5)
    assert load_config({"SESSION_ABSOLUTE_HOURS": "2"}).SESSION_ABSOLUTE_LIFETIME == timedelta(hours=2)


@pytest.mark.parametrize(("name", "value"), [("SESSION_IDLE_MINUTES", "0"), ("MAX_KEYS_PER_ACCOUNT", "0"),
                                             ("KEY_ROTATION_GRACE_SECONDS", "-1"), ("SESSION_IDLE_MINUTES", "soon"),
                                             ("SESSION_ABSOLUTE_HOURS", "0")])
def test_unusable_values_are_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_config({name: value})


@pytest.mark.parametrize("name", ACCOUNT_SETTINGS)
def test_every_setting_is_documented(name):
    assert f"\n{name}=" in (ROOT / ".env.example").read_text()
