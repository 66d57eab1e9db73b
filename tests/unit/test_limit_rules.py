"""services/limits/rules.py owns limits: one reading of every limit string, however it arrives."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from config import ConfigError, load_config
from proxyapp.admin.forms import LimitsForm
from proxyapp.services.limits import rules
from tests.conftest import Accounts

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
    app.config["ANONYMOUS_RATE_LIMIT"] = value
    try:
        rules.validate_limits(app)
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
