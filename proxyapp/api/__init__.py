"""The versioned JSON API under /v1, authenticated by API key only; its routing table."""

from flask import Blueprint

from proxyapp.api import account, batches, events, predictions
from proxyapp.api.auth import require_api_key
from proxyapp.api.limits import count_request, limit_api
from proxyapp.extensions import csrf
from proxyapp.services.limits.headers import add_rate_limit_headers

bp = Blueprint("api", __name__, url_prefix="/v1")
# The API authenticates by key, never by cookie, so cross-site requests carry no authority.
csrf.exempt(bp)
bp.before_request(require_api_key)
limit_api(bp)
bp.after_request(add_rate_limit_headers)
bp.after_request(count_request)

bp.add_url_rule("/predictions", view_func=predictions.create_prediction, methods=["POST"])
bp.add_url_rule("/predictions", view_func=predictions.list_predictions, methods=["GET"])
bp.add_url_rule("/predictions/<prediction_id>", view_func=predictions.get_prediction, methods=["GET"])
bp.add_url_rule(
    "/predictions/<prediction_id>/cancel", view_func=predictions.cancel_prediction, methods=["POST"]
)
bp.add_url_rule("/predictions/<prediction_id>/events", view_func=events.prediction_events, methods=["GET"])
bp.add_url_rule("/embeddings", view_func=predictions.create_embedding, methods=["POST"])
bp.add_url_rule("/batches", view_func=batches.create_batch, methods=["POST"])
bp.add_url_rule("/batches/<batch_id>", view_func=batches.get_batch, methods=["GET"])
bp.add_url_rule("/me", view_func=account.me, methods=["GET"])
bp.add_url_rule("/openapi.json", endpoint="openapi", view_func=account.openapi, methods=["GET"])
