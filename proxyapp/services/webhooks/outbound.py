"""One guarded POST to a client's webhook URL.

The address check runs on the socket that actually connected (its peer address), not on a
separate DNS lookup, so a name that resolves to a public address when checked and to a
private one when connected (DNS rebinding) is still refused. Redirects are not followed
and the response body is read only up to a cap.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class DeliveryRefused(ValueError):
    """The URL or the address it connected to is not one we call."""


@dataclass(frozen=True)
class OutboundPolicy:
    """What a webhook call may reach: https only unless allowed, hosts in the allow-list skip the address rules.

    `allow_private` (development and tests) lets private, loopback and link-local peers through,
    but never the cloud-metadata addresses.
    """

    allow_http: bool = False
    allow_private: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    timeout: tuple[float, float] = (3.0, 5.0)
    max_response_bytes: int = 64 * 1024


def is_forbidden_address(address: str) -> bool:
    """True for private, loopback, link-local, reserved, multicast and cloud-metadata addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (ip in METADATA_ADDRESSES or ip.is_private or ip.is_loopback or ip.is_link_local
            or ip.is_reserved or ip.is_multicast or ip.is_unspecified)


def is_refused_peer(address: str, allow_private: bool) -> bool:
    """Whether a connected peer address is one this policy refuses."""
    if allow_private:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return (ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip) in METADATA_ADDRESSES
    return is_forbidden_address(address)


def check_url(url: str, policy: OutboundPolicy) -> str:
    """The URL's host if its form is acceptable, else DeliveryRefused with the reason."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise DeliveryRefused("webhook must be an absolute https URL")
    if parts.scheme == "http" and not (policy.allow_http or host in policy.allowed_hosts):
        raise DeliveryRefused("webhook must use https")
    if parts.username or parts.password:
        raise DeliveryRefused("webhook URL must not contain credentials")
    if host not in policy.allowed_hosts and _is_address(host) and is_refused_peer(host, policy.allow_private):
        raise DeliveryRefused("webhook host is a private, loopback, link-local or metadata address")
    return host


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def policy_from_config(config: Mapping[str, Any]) -> OutboundPolicy:
    """The outbound policy of this deployment (https only and public peers only in production)."""
    timeout = config["WEBHOOK_TIMEOUT"]
    return OutboundPolicy(allow_http=config["WEBHOOK_ALLOW_HTTP"], allow_private=config["WEBHOOK_ALLOW_PRIVATE"],
                          allowed_hosts=config["WEBHOOK_ALLOWED_HOSTS"], timeout=(min(3.0, timeout), timeout))


def _guarded(connection_class: type[HTTPConnection]) -> type[HTTPConnection]:
    class GuardedConnection(connection_class):  # type: ignore[misc, valid-type]
        allowed_hosts: frozenset[str] = frozenset()
        allow_private: bool = False

        def connect(self) -> None:
            super().connect()
            peer = self.sock.getpeername()[0]
            if self.host.lower() not in self.allowed_hosts and is_refused_peer(peer, self.allow_private):
                self.sock.close()
                raise DeliveryRefused(f"webhook host resolves to a forbidden address ({peer})")

    return GuardedConnection


class _GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse forbidden peer addresses."""

    def __init__(self, allowed_hosts: frozenset[str], allow_private: bool = False) -> None:
        self.allowed_hosts = allowed_hosts
        self.allow_private = allow_private
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        http = type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": _guarded(HTTPConnection)})
        https = type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": _guarded(HTTPSConnection)})
        for pool in (http, https):
            pool.ConnectionCls.allowed_hosts = self.allowed_hosts
            pool.ConnectionCls.allow_private = self.allow_private
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}


def post_webhook(url: str, body: bytes, headers: dict[str, str], policy: OutboundPolicy) -> int:
    """POST the body and return the status code; DeliveryRefused or requests' errors when it cannot."""
    check_url(url, policy)
    with requests.Session() as session:
        session.mount("http://", _GuardedAdapter(policy.allowed_hosts, policy.allow_private))
        session.mount("https://", _GuardedAdapter(policy.allowed_hosts, policy.allow_private))
        response = session.post(url, data=body, timeout=policy.timeout, allow_redirects=False, stream=True,
                                headers={**headers, "Content-Type": "application/json"})
        with response:
            response.raw.read(policy.max_response_bytes + 1, decode_content=False)
            return response.status_code
