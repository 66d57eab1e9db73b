"""Trust signals: the operator, retention and encryption at rest on the landing and privacy pages, from configuration."""

from __future__ import annotations

import re
from html import unescape

import pytest

from config import ConfigError, contact_link, load_config
from tests.conftest import isolated_env
from tests.webforms import sign_in


def text(html: str) -> str:
    """The page's words, tags removed and whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


class TestWithAnOperator:
    @pytest.fixture
    def app_env(self, tmp_path, redis_url):
        return isolated_env(tmp_path, redis_url, OPERATOR_NAME="Clinica Norte <IT>", OPERATOR_CONTACT="privacy@norte.example",
                           RESULT_RETENTION_DAYS="7", CACHE_TTL="3600")

    def test_the_privacy_page_names_the_operator_contact_retention_and_encryption(self, client):
        response = client.get("/privacy")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert '<strong data-testid="operator-name">Clinica Norte &lt;IT&gt;</strong>' in html  # escaped
        assert 'href="mailto:privacy@norte.example"' in html
        words = text(html)
        assert "kept for 7 days after the prediction finishes" in words
        assert "Fernet (AES-128 in CBC mode, authenticated with HMAC-SHA256" in words
        assert "result cache for up to 1 hour" in words
        for promise in ("Never logged", "Visible only to you", "Deleted with your account"):
            assert promise in words
        assert "No contact is configured" not in words

    def test_the_landing_page_says_who_runs_it_and_links_to_the_privacy_page(self, client):
        html = client.get("/").get_data(as_text=True)
        words = text(html)
        assert "Run by Clinica Norte <IT> · contact: privacy@norte.example" in words
        assert "kept 7 days, encrypted at rest with Fernet" in words and "deleted after 7 days" in words
        assert html.count('href="/privacy"') == 2  # the statement and the footer

    def test_a_contact_url_is_linked_as_it_is(self, app, client):
        app.config["OPERATOR_CONTACT"] = "https://norte.example/privacy"
        assert 'href="https://norte.example/privacy"' in client.get("/privacy").get_data(as_text=True)


class TestWithoutAnOperator:
    @pytest.fixture
    def app_env(self, tmp_path, redis_url):
        return isolated_env(tmp_path, redis_url, CACHE_TTL="0")

    def test_the_pages_say_that_no_operator_is_named(self, client):
        privacy = text(client.get("/privacy").get_data(as_text=True))
        assert "The operator of this installation has not published a name." in privacy
        assert "No contact is configured for this installation: it may be a development or test setup." in privacy
        assert "kept for 30 days after the prediction finishes" in privacy  # RESULT_RETENTION_DAYS' default
        assert "result cache" not in privacy.split("Encrypted at rest")[0]  # CACHE_TTL=0: no cache sentence
        landing = text(client.get("/").get_data(as_text=True))
        assert "The operator of this installation has not published a name. Inputs and outputs are kept 30 days" in landing
        assert "contact:" not in landing

    def test_every_page_links_to_the_privacy_page_from_its_footer(self, client, accounts):
        accounts.create("ada")
        pages = ["/", "/login", "/register", "/privacy", "/nowhere"]
        anonymous = {path: client.get(path) for path in pages}
        sign_in(client, "ada")
        signed_in = {path: client.get(path) for path in ("/account", "/account/password")}
        for path, response in {**anonymous, **signed_in}.items():
            footer = re.search(r'<footer class="site-footer">(.*?)</footer>', response.get_data(as_text=True), re.DOTALL)
            assert footer and 'href="/privacy"' in footer.group(1), path

    def test_signed_in_people_see_the_same_page(self, client, accounts):
        accounts.create("ada")
        sign_in(client, "ada")
        assert "Privacy and patient data" in client.get("/privacy").get_data(as_text=True)


@pytest.mark.parametrize(("contact", "href"), [
    ("dpo@clinic.example", "mailto:dpo@clinic.example"),
    ("https://clinic.example/contact", "https://clinic.example/contact"),
    ("http://intranet.clinic/privacy", "http://intranet.clinic/privacy"),
    ("not a contact", None),
    ("javascript:alert(1)", None),
    ("ftp://clinic.example", None),
    ("mail@", None),
])
def test_contact_links_are_an_email_address_or_a_web_address(contact, href):
    assert contact_link(contact) == href


def test_an_unusable_operator_contact_is_refused_at_start_naming_the_variable():
    with pytest.raises(ConfigError, match="OPERATOR_CONTACT must be an email address or an http"):
        load_config({"APP_ENV": "testing", "OPERATOR_CONTACT": "javascript:alert(1)"})
    assert load_config({"APP_ENV": "testing", "OPERATOR_CONTACT": "  ", "OPERATOR_NAME": " "}).OPERATOR_NAME is None
