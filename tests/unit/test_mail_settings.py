"""Mail settings: SMTP_URL's schemes, MAIL_FROM, refusals at start-up naming the variable."""

from __future__ import annotations

import pytest

from config import ConfigError, SmtpSettings, load_config, parse_smtp_url
from tests.conftest import MAIL, PRODUCTION


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://127.0.0.1:2525", SmtpSettings("127.0.0.1", 2525, "none", None, None)),
    ("smtp://relay", SmtpSettings("relay", 25, "none", None, None)),
    ("smtp+starttls://me%40example.org:p%40ss%3Aword@mail.example.org",
     SmtpSettings("mail.example.org", 587, "starttls", "me@example.org", "p@ss:word")),
    ("smtps://me:pw@mail.example.org", SmtpSettings("mail.example.org", 465, "tls", "me", "pw")),
    ("smtps://me:pw@mail.example.org:2465/", SmtpSettings("mail.example.org", 2465, "tls", "me", "pw")),
])
def test_parses_the_three_schemes_with_default_ports_and_percent_decoding(url, expected):
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize("url", ["mail.example.org", "http://mail.example.org", "smtp://", "smtps://host/path",
                                 "smtp://host?starttls=1", "smtp://host:99999", "smtp://user:hunter2@host:port"])
def test_a_bad_smtp_url_is_refused_naming_the_variable_and_never_its_password(url):
    with pytest.raises(ConfigError) as refused:
        load_config({"SMTP_URL": url, **MAIL})
    assert str(refused.value).startswith("SMTP_URL ") and "hunter2" not in str(refused.value)


@pytest.mark.parametrize("sender", [None, "", "nobody", "Proxy <no-at-sign>"])
def test_mail_from_is_required_with_smtp_url(sender):
    env = {"SMTP_URL": "smtp://127.0.0.1:2525"} | ({"MAIL_FROM": sender} if sender is not None else {})
    with pytest.raises(ConfigError, match="^MAIL_FROM must be an address"):
        load_config(env)


def test_without_smtp_url_no_mail_setting_is_needed():
    config = load_config({})
    assert config.SMTP_URL is None and config.PASSWORD_RESET_MINUTES == 30 and config.EMAIL_VERIFY_HOURS == 24
    assert config.FORGOT_PASSWORD_RATE_LIMIT == "5/hour"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("PASSWORD_RESET_MINUTES", "0", "PASSWORD_RESET_MINUTES must be at least 1"),
    ("EMAIL_VERIFY_HOURS", "0", "EMAIL_VERIFY_HOURS must be at least 1"),
    ("PASSWORD_RESET_MINUTES", "soon", "PASSWORD_RESET_MINUTES must be an integer"),
    ("SMTP_TIMEOUT", "0", "SMTP_TIMEOUT must be positive"),
])
def test_lifetimes_and_timeout_must_be_positive(name, value, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        load_config({"SMTP_URL": "smtp://127.0.0.1:2525", **MAIL, name: value})


def test_production_refuses_a_password_sent_in_clear_to_another_host():
    with pytest.raises(ConfigError, match="^SMTP_URL sends its password unencrypted"):
        load_config({**PRODUCTION, **MAIL, "SMTP_URL": "smtp://me:pw@mail.example.org"})
    for url in ("smtp://me:pw@127.0.0.1:25", "smtp://relay:25", "smtps://me:pw@mail.example.org"):
        assert load_config({**PRODUCTION, **MAIL, "SMTP_URL": url}).SMTP_URL == url


def test_a_bad_forgot_password_limit_is_refused_at_start():
    with pytest.raises(ConfigError, match="^FORGOT_PASSWORD_RATE_LIMIT must look like"):
        load_config({"FORGOT_PASSWORD_RATE_LIMIT": "lots"})
