"""Web pages with cookie sessions and CSRF-protected forms; its routing table."""

from flask import Blueprint

from proxyapp.services.limits.headers import add_rate_limit_headers
from proxyapp.services.limits.rules import forgot_limit, register_limit
from proxyapp.services.signin.two_factor import status as two_factor_status
from proxyapp.web import (
                          account,
                          account_security,
                          key_actions,
                          prediction_page,
                          privacy,
                          recovery,
                          second_factor,
                          two_factor,
                          usage,
                          views,
)
from proxyapp.web.formatting import focus_field, format_duration, format_time
from proxyapp.web.sessions import configure_sessions, no_store
from proxyapp.web.throttle import failures_limited, per_ip_and_username

__all__ = ["bp", "configure_sessions"]

bp = Blueprint("web", __name__)
bp.after_request(no_store)
bp.after_request(add_rate_limit_headers)  # Retry-After on the 429 page of the limited forms
bp.add_app_template_filter(format_time, "time")
bp.add_app_template_filter(format_duration, "duration")
bp.add_app_template_filter(focus_field)
bp.add_app_template_global(two_factor_status, "two_factor_status")
bp.app_context_processor(privacy.trust_context)

bp.add_url_rule("/", view_func=views.index)
bp.add_url_rule("/privacy", view_func=privacy.privacy)
bp.add_url_rule("/register", view_func=per_ip_and_username(register_limit, views.register), methods=["GET", "POST"])
bp.add_url_rule("/login", view_func=failures_limited(views.login), methods=["GET", "POST"])
bp.add_url_rule("/login/code", view_func=failures_limited(second_factor.login_code, second_factor.pending_username),
                methods=["GET", "POST"])
bp.add_url_rule("/logout", view_func=views.logout, methods=["POST"])
bp.add_url_rule("/forgot-password", view_func=per_ip_and_username(forgot_limit, recovery.forgot_password),
                methods=["GET", "POST"])
bp.add_url_rule("/reset-password/<token>", "reset_password", recovery.reset_password_page, methods=["GET", "POST"])
bp.add_url_rule("/verify-email/<token>", view_func=recovery.verify_email, methods=["GET", "POST"])

bp.add_url_rule("/account", view_func=account.account)
bp.add_url_rule("/account/keys", view_func=account.create_key, methods=["POST"])
bp.add_url_rule("/account/keys/<int:key_id>/revoke", view_func=account.revoke_key, methods=["POST"])
bp.add_url_rule("/account/keys/<int:key_id>/rotate", view_func=account.rotate_key, methods=["POST"])
bp.add_url_rule("/account/keys/<int:key_id>/revoke", view_func=key_actions.confirm_revoke, methods=["GET"])
bp.add_url_rule("/account/keys/<int:key_id>/rotate", view_func=key_actions.confirm_rotate, methods=["GET"])
bp.add_url_rule("/account/webhooks/secret/rotate", view_func=account.rotate_webhook_secret, methods=["POST"])
bp.add_url_rule("/account/webhooks/test", view_func=account.send_webhook_test, methods=["POST"])
bp.add_url_rule("/account/usage", view_func=usage.usage)
bp.add_url_rule("/account/predictions", view_func=usage.predictions)
bp.add_url_rule("/account/predictions/<prediction_id>", view_func=prediction_page.prediction)
bp.add_url_rule("/account/predictions/<prediction_id>.json", view_func=prediction_page.prediction_json)
bp.add_url_rule("/account/predictions/<prediction_id>/cancel", view_func=prediction_page.cancel_prediction, methods=["POST"])
bp.add_url_rule("/account/sessions/end", view_func=account.sign_out_everywhere, methods=["POST"])
bp.add_url_rule("/account/sessions/<int:session_id>/end", "end_session", account_security.end_session,
                methods=["POST"])
bp.add_url_rule("/account/email", view_func=failures_limited(account_security.email), methods=["GET", "POST"])
bp.add_url_rule("/account/email/verify", view_func=account_security.resend_verification, methods=["POST"])
bp.add_url_rule("/account/password", view_func=failures_limited(account.password), methods=["GET", "POST"])
bp.add_url_rule("/account/two-factor", view_func=failures_limited(two_factor.enrol), endpoint="two_factor_enrol",
                methods=["GET", "POST"])
bp.add_url_rule("/account/two-factor/confirm", view_func=failures_limited(two_factor.confirm),
                endpoint="two_factor_confirm", methods=["POST"])
bp.add_url_rule("/account/two-factor/recovery-codes", view_func=failures_limited(two_factor.recovery_codes),
                endpoint="two_factor_recovery_codes", methods=["GET", "POST"])
bp.add_url_rule("/account/two-factor/disable", view_func=failures_limited(two_factor.disable),
                endpoint="two_factor_disable", methods=["GET", "POST"])
bp.add_url_rule("/account/delete", view_func=failures_limited(account.delete), methods=["GET", "POST"])
