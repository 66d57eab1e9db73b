"""Admin pages (administrators only): the system overview, accounts, their limits and keys, the audit trail; routing table."""

from flask import Blueprint

from proxyapp.admin import keys, recovery, views
from proxyapp.web.sessions import no_store

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(views.require_admin)
bp.after_request(no_store)

bp.add_url_rule("", view_func=views.index)
bp.add_url_rule("/users/<int:user_id>", view_func=views.user)
bp.add_url_rule("/users/<int:user_id>/disable", view_func=views.disable, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/enable", view_func=views.enable, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/limits", view_func=views.limits, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/reset-link", view_func=recovery.reset_link, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/reset-mail", view_func=recovery.reset_mail, methods=["POST"])
bp.add_url_rule("/users/<int:user_id>/keys/<int:key_id>/revoke", view_func=keys.revoke_key, methods=["POST"])
