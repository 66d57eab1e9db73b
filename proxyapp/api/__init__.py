"""The versioned JSON API under /v1, authenticated by API key only; its routing table."""

from flask import Blueprint

from proxyapp.api import account, predictions
from proxyapp.api.auth import require_api_key
from proxyapp.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/v1")
# The API authenticates by key, never by cookie, so cross-site requests carry no authority.
csrf.exempt(bp)
bp.before_request(require_api_key)

bp.add_url_rule("/predictions", view_func=predictions.create_prediction, methods=["POST"])
bp.add_url_rule("/predictions/<prediction_id>", view_func=predictions.get_prediction, methods=["GET"])
bp.add_url_rule(
    "/predictions/<prediction_id>/cancel", view_func=predictions.cancel_prediction, methods=["POST"]
)
bp.add_url_rule("/me", view_func=account.me, methods=["GET"])
