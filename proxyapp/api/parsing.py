"""Request-body parsing shared by API views: JSON only, validated by a schema."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from proxyapp.errors import BadRequest, UnsupportedMediaType, ValidationFailed


def json_body() -> Any:
    """The parsed JSON body, or None when it is not JSON, is malformed, or nests too deep.

    Python's parser raises RecursionError (not ValueError) on deeply nested input, which
    `get_json(silent=True)` lets through; no valid body comes anywhere near that depth.
    """
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def load_json_body(schema: Schema) -> dict[str, Any]:
    """The body validated by the schema; 415 if not JSON, 400 if malformed, 422 if invalid."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
    data = json_body()
    if data is None:
        raise BadRequest("The body is not valid JSON (or nests deeper than any valid body).")
    try:
        return schema.load(data)
    except ValidationError as error:
        raise ValidationFailed("The request body is invalid; see details.", details=error.messages) from None


def load_query(schema: Schema) -> dict[str, Any]:
    """The query string validated by the schema (unknown parameters rejected); 422 if invalid."""
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as error:
        raise ValidationFailed("The query string is invalid; see details.", details=error.messages) from None
