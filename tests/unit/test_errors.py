"""One error vocabulary: named errors carry their status and code, one handler renders them, and the API's
answers (codes, messages, headers) stay as the contract states them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask

from proxyapp import errors
from proxyapp.errors import (
    ERROR_CODES,
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    HttpsRequired,
    KeyExpired,
    NotFound,
    TooManyPending,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
    handle_http_exception,
)
from proxyapp.services.accounts.admin import AdminActionRefused
from proxyapp.services.accounts.lifecycle import UsernameTaken, WrongPassword
from proxyapp.services.accounts.tokens import TokenRefused
from proxyapp.services.keys.lifecycle import KeyActionRefused
from proxyapp.services.predictions.idempotency import MAX_KEY_LENGTH
from proxyapp.services.signin.two_factor import AlreadyEnrolled, CodeRejected
from tests.conftest import CANONICAL_BODY, bearer

ROOT = Path(__file__).resolve().parents[2]

NAMED = [
    (BadRequest, 400, "bad_request"),
    (Unauthorized, 401, "unauthorized"),
    (KeyExpired, 401, "key_expired"),
    (Forbidden, 403, "forbidden"),
    (HttpsRequired, 403, "https_required"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (UnsupportedMediaType, 415, "unsupported_media_type"),
    (ValidationFailed, 422, "validation_error"),
    (TooManyPending, 429, "too_many_pending"),
    (Unavailable, 503, "unavailable"),
]
# Refusals the pages catch to show a form again; escaped, each answers as the named error it refines.
REFUSALS = [
    (UsernameTaken(), Conflict, "This username is taken."),
    (WrongPassword(), Forbidden, "The password is wrong."),
    (CodeRejected(), Forbidden, "This code is not right, or it was used already."),
    (AlreadyEnrolled(), Conflict, "Two-factor sign-in is already on."),
    (KeyActionRefused("This key is revoked or expired; create a new key instead."), Conflict,
     "This key is revoked or expired; create a new key instead."),
    (AdminActionRefused("You cannot disable or enable your own account."), Forbidden,
     "You cannot disable or enable your own account."),
    (TokenRefused("used"), NotFound, "This link cannot be used: it is used."),
]


@pytest.mark.parametrize(("error_class", "status", "code"), NAMED, ids=lambda value: getattr(value, "__name__", None))
def test_each_named_error_carries_its_status_and_code(error_class, status, code):
    error = error_class("Something.")
    assert (error.code, error.error_code, error.description) == (status, code, "Something.")
    assert isinstance(error, APIError)


# Codes the contract gives a status besides its usual one (429 `rate_limited` is Flask-Limiter's own error).
REFINED = {KeyExpired, HttpsRequired, TooManyPending}


@pytest.mark.parametrize(("error_class", "status", "code"), NAMED, ids=lambda value: getattr(value, "__name__", None))
def test_a_named_error_uses_its_status_s_usual_code_unless_it_refines_it(error_class, status, code):
    assert (code == ERROR_CODES[status]) is (error_class not in REFINED)


@pytest.mark.parametrize(("refusal", "named", "message"), REFUSALS, ids=lambda value: type(value).__name__)
def test_each_refusal_is_the_named_error_it_refines(refusal, named, message):
    assert isinstance(refusal, named)
    assert (refusal.code, refusal.error_code, refusal.description) == (named.code, named.error_code, message)


def test_a_token_refusal_keeps_its_reason():
    assert TokenRefused("expired").reason == "expired"


@pytest.mark.parametrize(("error", "status", "body", "headers"), [
    (NotFound("No key with this id."), 404, {"code": "not_found", "message": "No key with this id."}, {}),
    (ValidationFailed("The request body is invalid; see details.", details={"history": ["Missing data."]}), 422,
     {"code": "validation_error", "message": "The request body is invalid; see details.",
      "details": {"history": ["Missing data."]}}, {}),
    (KeyExpired("This API key expired.", headers={"WWW-Authenticate": 'Bearer realm="proxyapp"'}), 401,
     {"code": "key_expired", "message": "This API key expired."}, {"WWW-Authenticate": 'Bearer realm="proxyapp"'}),
    (TooManyPending("You already have 2 predictions queued or running; wait for some to finish.",
                    headers={"Retry-After": "7"}), 429,
     {"code": "too_many_pending",
      "message": "You already have 2 predictions queued or running; wait for some to finish."},
     {"Retry-After": "7"}),
], ids=lambda value: type(value).__name__ if isinstance(value, APIError) else None)
def test_the_handler_renders_the_envelope(app, error, status, body, headers):
    with app.test_request_context("/v1/anything", headers={"X-Request-ID": "req-1"}):
        response = handle_http_exception(error)
    assert response.status_code == status
    assert response.get_json() == {"error": {**body, "request_id": "req-1"}}
    assert {name: response.headers.get(name) for name in headers} == headers


@pytest.fixture
def escaping_app(app: Flask) -> Flask:
    """The app with a page that lets each refusal escape uncaught."""
    def escape(index: int) -> None:
        raise REFUSALS[index][0]
    app.add_url_rule("/escaped/<int:index>", view_func=escape)
    return app


@pytest.mark.parametrize("index", range(len(REFUSALS)), ids=[type(row[0]).__name__ for row in REFUSALS])
def test_an_escaped_refusal_answers_its_status_through_the_one_handler(escaping_app, index):
    refusal, named, message = REFUSALS[index]
    client = escaping_app.test_client()
    as_json = client.get(f"/escaped/{index}", headers={"Accept": "application/json"})
    assert as_json.status_code == named.code
    assert as_json.get_json()["error"] | {"request_id": ""} == {"code": named.error_code, "message": message,
                                                                   "request_id": ""}
    page = client.get(f"/escaped/{index}", headers={"Accept": "text/html"})
    assert page.status_code == named.code and page.mimetype == "text/html"
    assert refusal.name in page.get_data(as_text=True)


def _envelope(response) -> tuple[int, str, str]:
    error = response.get_json()["error"]
    return response.status_code, error["code"], error["message"]


def test_the_api_answers_its_refusals_as_before(client, accounts):
    """Each raise site's status, code and message, as the API has always answered them."""
    _, key = accounts.create()
    missing = client.get("/v1/me")
    assert _envelope(missing) == (401, "unauthorized", "Send your API key as 'Authorization: Bearer <key>'.")
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="proxyapp"'
    assert _envelope(client.get("/v1/me", headers=bearer("pk_not-a-key"))) == (
        401, "unauthorized", "The API key is not valid; it may have been mistyped or revoked.")
    auth = bearer(key)
    assert _envelope(client.post("/v1/predictions", data="x", content_type="text/plain", headers=auth)) == (
        415, "unsupported_media_type", "Send the body as JSON with 'Content-Type: application/json'.")
    assert _envelope(client.post("/v1/predictions", data="{", content_type="application/json", headers=auth)) == (
        400, "bad_request", "The body is not valid JSON (or nests deeper than any valid body).")
    invalid = client.post("/v1/predictions", json={}, headers=auth)
    assert _envelope(invalid) == (422, "validation_error", "The request body is invalid; see details.")
    assert invalid.get_json()["error"]["details"]
    assert _envelope(client.get("/v1/predictions?bogus=1", headers=auth)) == (
        422, "validation_error", "The query string is invalid; see details.")
    long_key = {**auth, "Idempotency-Key": "k" * (MAX_KEY_LENGTH + 1)}
    assert _envelope(client.post("/v1/predictions", json=CANONICAL_BODY, headers=long_key)) == (
        400, "bad_request", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
    assert _envelope(client.get("/v1/predictions/nope", headers=auth)) == (
        404, "not_found", "No prediction with this id.")
    assert _envelope(client.get("/v1/batches/nope", headers=auth)) == (404, "not_found", "No batch with this id.")
    created = client.post("/v1/predictions", json=CANONICAL_BODY, headers=auth).get_json()
    client.post(f"/v1/predictions/{created['id']}/cancel", headers=auth)
    assert _envelope(client.post(f"/v1/predictions/{created['id']}/cancel", headers=auth)) == (
        409, "conflict", "The prediction already finished with status 'canceled'.")
    assert _envelope(client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})) == (
        403, "forbidden", "Metrics are served to loopback clients only; set METRICS_TOKEN to scrape from elsewhere.")


ERROR_NAMES = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, APIError)}
ERROR_NAMES |= {type(refusal).__name__ for refusal, _, _ in REFUSALS}


def bare_status_constructions(source: str) -> list[int]:
    """Lines that build the base APIError, or an error class from a bare status number."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        numbered = any(isinstance(arg, ast.Constant) and type(arg.value) is int for arg in node.args)
        if name == "APIError" or (name in ERROR_NAMES and numbered):
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_bare_status_constructions():
    source = 'raise APIError(404, "x")\nraise NotFound("x")\nraise errors.Conflict(409, "y")\nAPIError("z")\n'
    assert bare_status_constructions(source) == [1, 3, 4]


def test_no_code_builds_an_error_from_a_bare_status_number():
    offenders = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "proxyapp").rglob("*.py"))
                 for line in bare_status_constructions(path.read_text())]
    assert offenders == [], "raise a named error from proxyapp/errors.py instead"
