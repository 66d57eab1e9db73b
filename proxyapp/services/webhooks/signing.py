"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _sign(secret: str, message: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def signature_headers(message_id: str, timestamp: int, body: bytes, signing_secrets: Sequence[str]) -> dict[str, str]:
    """The three webhook-* headers; every secret (current, then the rotated one in its grace period) signs."""
    message = f"{message_id}.{timestamp}.".encode() + body
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(_sign(secret, message) for secret in signing_secrets)}
