"""A real SMTP server for tests (aiosmtpd) on a free loopback port, keeping every message it receives."""

from __future__ import annotations

import re
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devtools.embedded_redis import free_port

LINK_PATTERN = re.compile(r"https?://\S+")


class Mailbox:
    """`with Mailbox() as box:` an SMTP server at `box.url`; `box.messages` are what it was sent.

    With `username`/`password` the server offers AUTH and checks them (over plain SMTP on
    loopback: aiosmtpd is told not to insist on TLS); `authenticated` says, per message,
    whether its session had logged in. (Making AUTH required makes aiosmtpd warn on every
    connection, which the suite turns into errors.)
    """

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.authenticated: list[bool] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._credentials = (username, password)
        options = {}
        if username:
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)

    @property
    def url(self) -> str:
        """SMTP_URL for this server (with the credentials it requires, if any)."""
        username, password = self._credentials
        auth = f"{username}:{password}@" if username else ""
        return f"smtp://{auth}127.0.0.1:{self.port}"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        expected = tuple(value.encode() for value in self._credentials)
        is_right = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == expected
        return AuthResult(success=is_right, handled=False)  # aiosmtpd answers 235 or 535 itself

    async def handle_DATA(self, server, session, envelope) -> str:
        """aiosmtpd's hook: keep the message."""
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            self.recipients.append(list(envelope.rcpt_tos))
            self.authenticated.append(bool(session.authenticated))
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """The first `count` messages, once that many have arrived (a worker sends them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages[:count])
            time.sleep(0.05)
        raise AssertionError(f"{len(self.messages)} of {count} messages arrived within {timeout} s")

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def body_of(message: EmailMessage) -> str:
    """The plain-text body of a message."""
    return message.get_body(("plain",)).get_content()


def link_in(message: EmailMessage) -> str:
    """The one link in a message's body."""
    links = LINK_PATTERN.findall(body_of(message))
    assert len(links) == 1, links
    return links[0]
