"""Admin action on one API key of an account: revoke it without touching the account."""

from __future__ import annotations

from flask import Response, flash, redirect, url_for
from flask_login import current_user

from proxyapp.services.accounts import admin


def revoke_key(user_id: int, key_id: int) -> Response:
    """Revoke a leaked or unwanted key at once (audited); the account and its other keys keep working."""
    account = admin.get_user(user_id)
    api_key = admin.revoke_key(current_user, account, key_id)
    flash(f"Key {api_key.name} ({api_key.display_prefix}…) of {account.username} is revoked; "
          "it is refused from now on.", "info")
    return redirect(url_for("admin.user", user_id=user_id, _anchor="keys-heading"))
