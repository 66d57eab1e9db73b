"""Batch endpoints: thin views over the batches service."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from proxyapp.api.auth import current_account, current_api_key
from proxyapp.api.headers import accepted_cache_age
from proxyapp.api.parsing import load_json_body
from proxyapp.api.predictions import POLL_AFTER_SECONDS
from proxyapp.links import public_url_for
from proxyapp.models import PredictionKind
from proxyapp.schemas import BatchSchema, BatchSubmissionSchema, shared
from proxyapp.services.predictions import batches
from proxyapp.services.webhooks.events import take_target


def create_batch() -> tuple[Response, int, dict[str, str]]:
    """Validate every item (any invalid one rejects the whole batch), store and queue them; 202."""
    config = current_app.config
    schema = shared(BatchSubmissionSchema, max_history=config["MAX_HISTORY"], strict_codes=config["STRICT_CODES"])
    body = load_json_body(schema)
    summary = batches.create_batch(current_api_key(), body["predictions"], webhook=take_target(body),
                                   cache_max_age=accepted_cache_age(PredictionKind.PREDICTION))
    headers = {"Location": public_url_for("api.get_batch", batch_id=summary.batch.id),
               "Retry-After": str(POLL_AFTER_SECONDS)}
    return jsonify(shared(BatchSchema).dump(summary)), 202, headers


def get_batch(batch_id: str) -> Response:
    """The caller's batch with its items' statuses, or 404."""
    return jsonify(shared(BatchSchema).dump(batches.get_owned_batch(current_account(), batch_id)))
