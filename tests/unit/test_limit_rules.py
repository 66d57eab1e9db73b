"""services/limits/rules.py owns limits: one reading of every limit string, however it arrives, and the
scopes and identities that name each window in Redis."""

from __future__ import annotations

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from config import ConfigError, load_config
from proxyapp.admin.forms import LimitsForm
from proxyapp.extensions import db
from proxyapp.models import ApiKey
from proxyapp.services.limits import rules
from proxyapp.services.limits.rules import Scope
from tests.conftest import CANONICAL_BODY, Accounts, bearer
from tests.webforms import sign_in

UNREADABLE = ["lots", "100/fortnight", "100/minute;", "minute/100", "100", "100 per"]
READABLE = ["100/minute", "1000/hour;50/minute", "5/second"]


def refusals(app: Flask, accounts: Accounts, value: str) -> dict[str, str | None]:
    """What each way a limit string arrives says of `value` (None: accepted)."""
    said: dict[str, str | None] = {}
    try:
        load_config({"RATE_LIMIT": value})
        said["config"] = None
    except ConfigError as error:
        said["config"] = str(error)
    try:
        load_config({"ANONYMOUS_RATE_LIMIT": value})
        said["settings"] = None
    except ConfigError as error:
        said["settings"] = str(error)
    with app.test_request_context():
        form = LimitsForm(formdata=MultiDict({"rate_limit": value}), meta={"csrf": False})
        said["admin form"] = None if form.validate() else form.rate_limit.errors[0]
    accounts.create("bob")
    result = app.test_cli_runner().invoke(args=["users", "set-limit", "bob", "--rate-limit", value])
    said["cli"] = None if result.exit_code == 0 else result.output.strip().splitlines()[-1]
    return said


def refused_in_their_own_words(value: str) -> dict[str, str]:
    return {
        "config": f"RATE_LIMIT must look like '100/minute', got {value!r}",
        "settings": f"ANONYMOUS_RATE_LIMIT must look like '100/minute', got {value!r}",
        "admin form": "Write a limit such as 100/minute or 1000/hour;50/minute.",
        "cli": "Error: Invalid value: write a limit such as 100/minute or 1000/hour;50/minute",
    }


@pytest.mark.parametrize("value", UNREADABLE)
def test_an_unreadable_limit_is_refused_by_config_settings_admin_form_and_cli(app, accounts, value):
    assert refusals(app, accounts, value) == refused_in_their_own_words(value)


@pytest.mark.parametrize("value", READABLE)
def test_a_readable_limit_is_accepted_by_all_of_them(app, accounts, value):
    assert refusals(app, accounts, value) == dict.fromkeys(refused_in_their_own_words(value))


def test_all_of_them_read_limits_through_parse_limits(app, accounts, monkeypatch):
    read: list[str] = []
    parse_many = rules.parse_many

    def refusing_seven_a_minute(value: str) -> list:
        if value != "7/minute":
            return parse_many(value)
        read.append(value)
        raise ValueError(value)

    monkeypatch.setattr(rules, "parse_many", refusing_seven_a_minute)
    assert refusals(app, accounts, "7/minute") == refused_in_their_own_words("7/minute")
    assert read == ["7/minute"] * 4


def test_parse_limits_names_the_windows_in_the_order_written():
    hour, minute = rules.parse_limits("1000/hour;50/minute")
    assert (hour.amount, hour.get_expiry(), minute.amount, minute.get_expiry()) == (1000, 3600, 50, 60)
    with pytest.raises(rules.InvalidLimit):
        rules.parse_limits("lots")


def test_the_poll_limit_scales_every_count_of_rate_limit_and_only_the_slash_form():
    assert rules.scaled_limit("RATE_LIMIT", "20/second;100/hour", 10) == "200/second;1000/hour"
    with pytest.raises(ConfigError, match=r"^RATE_LIMIT must look like '100/minute', got '100 per minute'$"):
        rules.scaled_limit("RATE_LIMIT", "100 per minute", 10)


def test_scopes_are_the_bare_names_redis_keys_and_headers_use():
    assert [str(scope) for scope in Scope] == [f"{scope}" for scope in Scope] == [
        "submit-key", "submit-account", "poll-key", "poll-account", "anonymous",
        "password-failures-client-username", "password-failures-client", "password-failures-username"]


def stored_windows(app: Flask, redis_url: str) -> set[str]:
    """The limiter's Redis keys of this app (its RATELIMIT_KEY_PREFIX)."""
    pattern = f"LIMITS:LIMITER/{app.config['RATELIMIT_KEY_PREFIX']}/*"
    return {key.decode() for key in Redis.from_url(redis_url).scan_iter(pattern)}


def test_a_submission_fills_the_key_and_account_windows_the_rules_name(app, client, accounts, redis_url):
    user_id, key = accounts.create()
    with app.app_context():
        key_id = db.session.scalar(select(ApiKey.id).where(ApiKey.user_id == user_id))
    assert client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).status_code == 202
    prefix = app.config["RATELIMIT_KEY_PREFIX"]
    assert stored_windows(app, redis_url) == {f"LIMITS:LIMITER/{prefix}/key:{key_id}/submit-key/100/1/minute",
                                              f"LIMITS:LIMITER/{prefix}/account:{user_id}/submit-account/100/1/minute"}
    with app.app_context():
        read_by_usage = rules.parse_limits("100/minute")[0].key_for(
            *rules.window_args(rules.account_identity(user_id), Scope.SUBMIT_ACCOUNT))
    assert f"LIMITS:{read_by_usage}" in stored_windows(app, redis_url)


def test_a_wrong_password_is_tested_against_the_three_failure_windows_the_rules_name(app, client, accounts, redis_url):
    accounts.create("ada")
    assert sign_in(client, "ada", "wrong password", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 422
    prefix = f"LIMITS:LIMITER/{app.config['RATELIMIT_KEY_PREFIX']}"
    assert stored_windows(app, redis_url) == {
        f"{prefix}/10.0.0.7|username:ada/password-failures-client-username/5/1/minute",
        f"{prefix}/10.0.0.7/password-failures-client/10/1/minute",
        f"{prefix}/username:ada/password-failures-username/50/1/hour",
    }
    assert rules.client_username_identity("10.0.0.7", "ada") == "10.0.0.7|username:ada"
