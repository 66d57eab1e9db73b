"""Batch endpoints: thin views over the batches service."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from proxyapp.api.auth import current_account, current_api_key
from proxyapp.api.headers import is_cache_bypassed
from proxyapp.api.parsing import load_json_body
from proxyapp.links import public_url_for
from proxyapp.api.predictions import POLL_AFTER_SECONDS
from proxyapp.schemas import BatchRequestSchema, BatchSchema
from proxyapp.services import batches


def create_batch() -> tuple[Response, int, dict[str, str]]:
    """Validate every item (any invalid one rejects the whole batch), store and queue them; 202."""
    config = current_app.config
    body = load_json_body(BatchRequestSchema(max_history=config["MAX_HISTORY"], strict_codes=config["STRICT_CODES"]))
    summary = batches.create_batch(current_api_key(), body["predictions"], use_cache=not is_cache_bypassed())
    headers = {"Location": public_url_for("api.get_batch", batch_id=summary.batch.id),
               "Retry-After": str(POLL_AFTER_SECONDS)}
    return jsonify(BatchSchema().dump(summary)), 202, headers


def get_batch(batch_id: str) -> Response:
    """The caller's batch with its items' statuses, or 404."""
    return jsonify(BatchSchema().dump(batches.get_owned_batch(current_account(), batch_id)))
