"""Helpers that drive the web pages through a Flask test client like a browser would."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, csrf_token

NEW_KEY_PATTERN = r'data-testid="new-key">(pxk_[0-9A-Za-z]+)<'


def submit(client: FlaskClient, page: str, data: dict[str, str], action: str | None = None,
           **kwargs: object) -> TestResponse:
    """GET the page for its CSRF token, then POST the form to `action` (default: the page)."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(action or page, data={**data, "csrf_token": token}, **kwargs)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, **kwargs: object) -> TestResponse:
    """Submit the sign-in form."""
    return submit(client, "/login", {"username": username, "password": password}, **kwargs)


def sign_out(client: FlaskClient) -> TestResponse:
    """Press the sign-out button of the account page."""
    return submit(client, "/account", {}, "/logout")


def account_action(client: FlaskClient, action: str, data: dict[str, str] | None = None) -> TestResponse:
    """POST one of the account page's forms (create, rotate, revoke) with its CSRF token."""
    return submit(client, "/account", data or {}, action)


def shown_key(response: TestResponse) -> str:
    """The plaintext key a page shows once."""
    match = re.search(NEW_KEY_PATTERN, response.get_data(as_text=True))
    assert match, "the new key is not on the page"
    return match.group(1)

