"""Webhook building blocks: Standard Webhooks signing and the guarded outbound HTTP call."""

from proxyapp.services.webhooks.outbound import DeliveryRefused, OutboundPolicy, post_webhook
from proxyapp.services.webhooks.signing import new_secret, signature_headers

__all__ = ["DeliveryRefused", "OutboundPolicy", "new_secret", "post_webhook", "signature_headers"]
