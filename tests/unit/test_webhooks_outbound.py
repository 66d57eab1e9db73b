"""Webhook signing and the guarded outbound call, against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from standardwebhooks import Webhook, WebhookVerificationError

from proxyapp.services.webhooks import DeliveryRefused, OutboundPolicy, new_secret, post_webhook, signature_headers
from proxyapp.services.webhooks.outbound import is_forbidden_address
from tests.receivers import WebhookReceiver

BODY = json.dumps({"id": "01ABC", "status": "succeeded"}).encode()


def redirect(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(302)
    handler.send_header("Location", "/elsewhere")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def big_body(handler: BaseHTTPRequestHandler) -> None:
    payload = b"x" * (1024 * 1024)
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(2)
    handler.send_response(200)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@pytest.fixture
def receiver(receiver: WebhookReceiver) -> WebhookReceiver:
    """The shared receiver, answering /redirect, /big and /slow as their names say."""
    receiver.answer("/redirect", redirect)
    receiver.answer("/big", big_body)
    receiver.answer("/slow", slow)
    return receiver


ALLOW_LOOPBACK = OutboundPolicy(allow_http=True, allowed_hosts=frozenset({"127.0.0.1"}))


def test_a_signed_delivery_verifies_with_the_standardwebhooks_package(receiver):
    secret = new_secret()
    assert secret.startswith("whsec_")
    headers = signature_headers("msg_1", int(time.time()), BODY, [secret])
    assert post_webhook(f"{receiver.url}/hook", BODY, headers, ALLOW_LOOPBACK) == 200
    got_headers, got_body = receiver.received[0].headers, receiver.received[0].body
    assert Webhook(secret).verify(got_body, {k.lower(): v for k, v in got_headers.items()}) == json.loads(BODY)


def test_during_rotation_both_secrets_sign_and_either_verifies():
    old, new = new_secret(), new_secret()
    headers = signature_headers("msg_2", int(time.time()), BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


@pytest.mark.parametrize(("url", "policy", "reason"), [
    ("http://example.com/hook", OutboundPolicy(), "https"),
    ("ftp://example.com/hook", OutboundPolicy(), "https"),
    ("https://user:pw@example.com/hook", OutboundPolicy(), "credentials"),
    ("not a url", OutboundPolicy(), "absolute"),
])
def test_bad_urls_are_refused_before_any_connection(url, policy, reason):
    with pytest.raises(DeliveryRefused, match=reason):
        post_webhook(url, BODY, {}, policy)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254",
                                     "::1", "fe80::1", "::ffff:127.0.0.1", "0.0.0.0", "fd00:ec2::254"])
def test_forbidden_addresses(address):
    assert is_forbidden_address(address)


def test_public_addresses_are_allowed():
    assert not is_forbidden_address("93.184.215.14") and not is_forbidden_address("2606:2800:21f:cb07::1")


def test_loopback_is_refused_at_connect_time_unless_allow_listed(receiver):
    port = receiver.url.rsplit(":", 1)[1]
    # "localhost" passes the URL check; only the connected socket's peer address shows it is loopback,
    # which is what a rebinding name looks like by the time it connects.
    with pytest.raises(DeliveryRefused, match="forbidden address"):
        post_webhook(f"http://localhost:{port}/hook", BODY, {}, OutboundPolicy(allow_http=True))
    assert receiver.received == []


def test_redirects_are_not_followed(receiver):
    assert post_webhook(f"{receiver.url}/redirect", BODY, {}, ALLOW_LOOPBACK) == 302
    assert [hook.path for hook in receiver.received] == ["/redirect"]


def test_a_large_response_is_read_only_up_to_the_cap(receiver):
    assert post_webhook(f"{receiver.url}/big", BODY, {}, ALLOW_LOOPBACK) == 200


def test_a_slow_receiver_times_out(receiver):
    policy = OutboundPolicy(allow_http=True, allowed_hosts=frozenset({"127.0.0.1"}), timeout=(0.5, 0.5))
    with pytest.raises(requests.Timeout):
        post_webhook(f"{receiver.url}/slow", BODY, {}, policy)


def test_connection_errors_surface_as_requests_errors():
    policy = OutboundPolicy(allow_http=True, allowed_hosts=frozenset({"127.0.0.1"}), timeout=(0.5, 0.5))
    with pytest.raises(requests.ConnectionError):
        post_webhook("http://127.0.0.1:9/hook", BODY, {}, policy)  # discard port: nothing listens
