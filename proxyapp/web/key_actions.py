"""Confirmation pages for a key's revoke and rotate: plain GET pages whose forms POST the action,
so a stray click changes nothing and no JavaScript is needed."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from proxyapp.services.keys import lifecycle as keyring


def _confirmation(key_id: int, action: str) -> str:
    api_key = keyring.find_owned_key(current_user, key_id)
    return render_template("account/confirm_key.html", action=action, key=api_key,
                           status=keyring.key_status(api_key), grace_end=keyring.rotation_grace_end(api_key))


@login_required
def confirm_revoke(key_id: int) -> str:
    """Which key, and that revoking it refuses it at once; the form POSTs the revoke."""
    return _confirmation(key_id, "revoke")


@login_required
def confirm_rotate(key_id: int) -> str:
    """Which key, what rotating it issues and how long the old one lasts; the form POSTs the rotation."""
    return _confirmation(key_id, "rotate")
