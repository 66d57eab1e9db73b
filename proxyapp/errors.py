"""One place that turns every exception into the JSON envelope or an HTML error page."""

from __future__ import annotations

import logging
import re
import sqlite3
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from flask.globals import request_ctx
from limits.errors import StorageError
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from proxyapp.extensions import db

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
JSON_PATH_PREFIXES = ("/v1/", "/healthz", "/readyz", "/metrics")
DEPENDENCY_RETRY_AFTER = 5
# Raised when Redis (directly, or through the rate limiter) or the database is unreachable.
DEPENDENCY_ERRORS = (RedisError, StorageError, OperationalError)

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class APIError(HTTPException):
    """An HTTP error with a machine-readable code, optional details and headers.

    Raise one of the named subclasses below (or a domain refusal built on one), never this
    base: each carries its status as `code` and its `error_code` at class level.
    """

    code = 500
    error_code = "internal_error"

    def __init__(self, message: str | None = None, *, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description=message)
        self.details = details
        self.extra_headers = headers or {}


class BadRequest(APIError):
    """400: the request cannot be read (malformed JSON, a malformed header)."""

    code = 400
    error_code = "bad_request"


class Unauthorized(APIError):
    """401: no credentials, or credentials that do not authenticate."""

    code = 401
    error_code = "unauthorized"


class KeyExpired(Unauthorized):
    """401 for an API key that expired (or whose rotation grace period ended)."""

    error_code = "key_expired"


class Forbidden(APIError):
    """403: the caller is known but may not do this."""

    code = 403
    error_code = "forbidden"


class HttpsRequired(Forbidden):
    """403 for a request sent over plain HTTP where HTTPS is enforced."""

    error_code = "https_required"


class NotFound(APIError):
    """404: nothing with this id (or nothing the caller may see)."""

    code = 404
    error_code = "not_found"


class Conflict(APIError):
    """409: the request conflicts with the current state of what it names."""

    code = 409
    error_code = "conflict"


class UnsupportedMediaType(APIError):
    """415: the body is not sent as JSON."""

    code = 415
    error_code = "unsupported_media_type"


class ValidationFailed(APIError):
    """422: the request is well-formed but invalid; `details` says where."""

    code = 422
    error_code = "validation_error"


class TooManyPending(APIError):
    """429: the account's cap of queued and running predictions is reached."""

    code = 429
    error_code = "too_many_pending"


class Unavailable(APIError):
    """503: a dependency (Redis, the database, the job queue) cannot serve the request now."""

    code = 503
    error_code = "unavailable"


def request_id() -> str:
    """This request's id: a sane incoming X-Request-ID, or a new one."""
    if "request_id" not in g:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    return g.request_id


def wants_json() -> bool:
    """True for API paths, and for clients that ask for JSON rather than HTML."""
    if request.path.startswith(JSON_PATH_PREFIXES) or request.path == "/v1":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_envelope(status: int, error_code: str, message: str, details: Any = None) -> Response:
    """The JSON error body every API error uses."""
    body: dict[str, Any] = {"code": error_code, "message": message}
    if details is not None:
        body["details"] = details
    body["request_id"] = request_id()
    response = jsonify({"error": body})
    response.status_code = status
    return response


def handle_http_exception(error: HTTPException) -> Response:
    """Render any HTTP error as the envelope (API) or an error page (browser)."""
    status = error.code or 500
    message = error.description or "Error."
    if wants_json():
        response = error_envelope(
            status,
            getattr(error, "error_code", None) or ERROR_CODES.get(status, "error"),
            message,
            getattr(error, "details", None),
        )
    elif request_ctx.url_adapter is None:
        # No URL adapter (e.g. a Host outside TRUSTED_HOSTS): the page template cannot build its links.
        response = Response(f"{status} {error.name}\n", status=status, mimetype="text/plain")
    else:
        response = Response(
            render_template("error.html", status=status, title=error.name, message=message), status=status
        )
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    for name, value in getattr(error, "extra_headers", {}).items():
        response.headers[name] = value
    return response


def handle_unexpected(error: Exception) -> Response:
    """Log the exception with the request id, roll back, and answer a bare 500."""
    db.session.rollback()
    log.exception("unhandled error", extra={"request_id": request_id()})
    return handle_http_exception(InternalServerError("The server hit an unexpected error."))


def _is_outage(error: Exception) -> bool:
    """True for errors that mean a dependency is down or busy, not that our code is wrong.

    SQLite reports a missing column and a locked database with the same exception class,
    so only its lock and busy errors count as outages; PostgreSQL's OperationalError is
    about the connection (schema errors are ProgrammingError there).
    """
    if not isinstance(error, OperationalError):
        return True
    if error.connection_invalidated or not isinstance(error.orig, sqlite3.Error):
        return True
    return any(word in str(error.orig).lower() for word in ("locked", "busy"))


def handle_dependency_down(error: Exception) -> Response:
    """Redis or the database is unreachable: fail closed with 503 and a hint when to retry."""
    if not _is_outage(error):
        return handle_unexpected(error)
    db.session.rollback()
    log.warning("dependency unavailable: %s: %s", type(error).__name__, getattr(error, "orig", None) or error,
                extra={"request_id": request_id()})
    return handle_http_exception(
        Unavailable("The service is temporarily unavailable. Please retry shortly.",
                    headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER)})
    )


def add_request_id(response: Response) -> Response:
    """Echo the request id on every response."""
    response.headers[REQUEST_ID_HEADER] = request_id()
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers and the request-id hook on the app."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
    for error_class in DEPENDENCY_ERRORS:
        app.register_error_handler(error_class, handle_dependency_down)
    app.after_request(add_request_id)
