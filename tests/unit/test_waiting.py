"""Wait slots: a share of the web threads for `Prefer: wait`, in total and per account."""

from __future__ import annotations

from contextlib import ExitStack

import config
from proxyapp.services.predictions.waiting import WaitSlots


def test_slots_are_bounded_in_total_and_per_account_and_freed_after_use():
    slots = WaitSlots(total=3, per_account=2)
    with ExitStack() as held:
        assert held.enter_context(slots.claim(1)) is True
        assert held.enter_context(slots.claim(1)) is True
        assert held.enter_context(slots.claim(1)) is False  # the account's share is used
        assert held.enter_context(slots.claim(2)) is True
        assert held.enter_context(slots.claim(3)) is False  # the process's share is used
    with slots.claim(1) as granted:
        assert granted is True  # all freed once the waits ended


def test_defaults_derive_from_the_thread_count():
    settings = config.TestingConfig({"WEB_THREADS": "16"})
    assert (settings.MAX_WAITING, settings.MAX_WAITING_PER_ACCOUNT) == (8, 2)
    small = config.TestingConfig({"WEB_THREADS": "2"})
    assert (small.MAX_WAITING, small.MAX_WAITING_PER_ACCOUNT) == (1, 1)
    assert config.TestingConfig({"MAX_WAITING": "6", "MAX_WAITING_PER_ACCOUNT": "3"}).MAX_WAITING_PER_ACCOUNT == 3


def test_a_refused_wait_is_answered_at_once_without_preference_applied(app, client, accounts):
    _, key = accounts.create()
    app.extensions["proxyapp.wait_slots"] = WaitSlots(0, 0)
    response = client.post("/v1/predictions", json={"history": [{"code": "64", "system": "age", "display": "64"}]},
                           headers={"Authorization": f"Bearer {key}", "Prefer": "wait=30"})
    assert response.status_code == 202
    assert "Preference-Applied" not in response.headers
