"""Bounded waiting: `Prefer: wait` may hold only a share of a web process's threads.

A waiting request holds a waitress thread for up to a minute. Without a bound, a few
clients waiting on a slow upstream take every thread and nobody else is answered (not
even /healthz). Each web process therefore grants at most MAX_WAITING waits at once
(default: half of WEB_THREADS) and at most MAX_WAITING_PER_ACCOUNT to one account
(default: a quarter of MAX_WAITING, at least one). A wait that cannot be granted is not
an error: the request is answered 202 at once, without `Preference-Applied`, and the
client polls as usual.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app

_EXTENSION = "proxyapp.wait_slots"


class WaitSlots:
    """Counts the waits in progress in this process, in total and per account."""

    def __init__(self, total: int, per_account: int) -> None:
        self.total = total
        self.per_account = per_account
        self._lock = threading.Lock()
        self._in_use = 0
        self._by_account: Counter[int] = Counter()

    @contextmanager
    def claim(self, account_id: int) -> Iterator[bool]:
        """Yield True, holding a slot for the block, if this account may wait now; else False."""
        with self._lock:
            granted = self._in_use < self.total and self._by_account[account_id] < self.per_account
            if granted:
                self._in_use += 1
                self._by_account[account_id] += 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._in_use -= 1
                    self._by_account[account_id] -= 1
                    if not self._by_account[account_id]:
                        del self._by_account[account_id]


def init_wait_slots(app: Flask) -> None:
    """One set of slots per app (a web process builds one app)."""
    app.extensions[_EXTENSION] = WaitSlots(app.config["MAX_WAITING"], app.config["MAX_WAITING_PER_ACCOUNT"])


def wait_slots() -> WaitSlots:
    """The current app's wait slots."""
    return current_app.extensions[_EXTENSION]
