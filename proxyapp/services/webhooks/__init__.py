"""Webhooks: endpoints' events and targets, Standard Webhooks signing and its keys, the guarded outbound
HTTP call, and deliveries with retries.

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- deliveries: retry_delay, retry_schedule, record_delivery, queue_attempt, attempt_delivery, recent_deliveries,
  requeue_stale_deliveries, purge_old_deliveries, forget_account_deliveries
- emit: prediction_payload, prediction_event, after_transition, batch_item_finished, send_test_event
- events: WebhookEvent, WebhookTarget, take_target, wants, envelope
- outbound: DeliveryRefused, OutboundPolicy, is_forbidden_address, is_refused_peer, check_url, policy_from_config,
  post_webhook
- signing: new_secret, signature_headers
- signing_keys: signing_key, is_in_grace, signing_secrets, rotate_signing_secret
"""

from proxyapp.services.webhooks.outbound import DeliveryRefused, OutboundPolicy, post_webhook
from proxyapp.services.webhooks.signing import new_secret, signature_headers

__all__ = ["DeliveryRefused", "OutboundPolicy", "new_secret", "post_webhook", "signature_headers"]
