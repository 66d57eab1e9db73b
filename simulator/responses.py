"""Error rendering in the upstream's (Django REST framework) style, and the access log."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("simulator")

INVALID_TOKEN = "Invalid token."


class ApiError(Exception):
    """An error answered as `{"detail": ...}` with an HTTP status."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}

    def to_response(self) -> Response:
        """Render the error as a JSON response."""
        return detail_response(self.status, self.detail, self.headers)


def detail_response(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """Return a `{"detail": ...}` JSON response."""
    response = jsonify(detail=detail)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def unauthorized() -> ApiError:
    """Return the error DRF's TokenAuthentication gives for a missing or wrong key."""
    return ApiError(401, INVALID_TOKEN, {"WWW-Authenticate": "Token"})


def register(app: Flask) -> None:
    """Install JSON error handlers and the access log on the app."""
    app.register_error_handler(ApiError, ApiError.to_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_log_request)


def _http_error(error: HTTPException) -> Response:
    """Render werkzeug's 404/405/413 and friends as JSON, keeping headers such as Allow."""
    response = detail_response(error.code or 500, error.description or error.name)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(error: Exception) -> Response:
    """Answer an unexpected failure like Django does, without leaking the request body."""
    # The type only: an exception message or traceback could quote the request body.
    log.error("unhandled %s on %s %s", type(error).__name__, request.method, request.path)
    return detail_response(500, "A server error occurred.")


def _log_request(response: Response) -> Response:
    """Log method, path and status only: bodies carry patient data."""
    log.info("%s %s %s", request.method, request.path, response.status_code)
    return response
