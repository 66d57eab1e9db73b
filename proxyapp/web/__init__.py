"""Web pages with cookie sessions and CSRF-protected forms; its routing table."""

from flask import Blueprint, current_app

from proxyapp.extensions import limiter
from proxyapp.web import views

bp = Blueprint("web", __name__)


def _register_limit() -> str:
    """Registration attempts per client IP (mass sign-up farms keys)."""
    return current_app.config["REGISTER_RATE_LIMIT"]


bp.add_url_rule("/", view_func=views.index)
bp.add_url_rule(
    "/register",
    view_func=limiter.limit(_register_limit, methods=["POST"])(views.register),
    methods=["GET", "POST"],
)
bp.add_url_rule("/login", view_func=views.login, methods=["GET", "POST"])
bp.add_url_rule("/logout", view_func=views.logout, methods=["POST"])
bp.add_url_rule("/account", view_func=views.account)
