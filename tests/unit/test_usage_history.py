"""Usage per UTC day over 30 days: counts by status and error code, nearest-rank p50/p95, requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from proxyapp.extensions import db
from proxyapp.models import ApiKey, Prediction, User, utcnow
from proxyapp.queue import get_redis
from proxyapp.services.limits import usage_history as history_module
from proxyapp.services.limits.usage import record_request
from proxyapp.services.limits.usage_history import WINDOW_DAYS, usage_history, window
from tests.conftest import isolated_env
from tests.databases import DATABASE_KINDS, temporary_database

TODAY = date(2026, 3, 15)


@pytest.fixture(params=DATABASE_KINDS)
def app_env(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """Days are truncated and percentiles ranked in SQL: run on SQLite and on PostgreSQL."""
    with temporary_database(request.param, tmp_path) as database_url:
        yield isolated_env(tmp_path, redis_url, DATABASE_URL=database_url)


def at(days_ago: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    """A moment `days_ago` UTC days before TODAY."""
    return datetime.combine(TODAY - timedelta(days=days_ago), time(hour, minute, second), UTC)


def add(app, user_id: int, key_id: int | None, created_at: datetime, status: str = "succeeded",
        upstream_ms: int | None = None, error_code: str | None = None) -> None:
    with app.app_context():
        db.session.add(Prediction(user_id=user_id, api_key_id=key_id, status=status, created_at=created_at,
                                  upstream_ms=upstream_ms, error_code=error_code))
        db.session.commit()


def first_key_id(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(ApiKey.id).where(ApiKey.user_id == user_id))


@pytest.fixture
def ada(app, accounts):
    """An account with two keys (A, B) and predictions on several days; another account beside it."""
    user_id, _ = accounts.create("ada")
    key_a, key_b = first_key_id(app, user_id), accounts.add_key(user_id, "b").api_key.id
    for ms in (300, 100, 1000, 200, 900, 400, 800, 500, 700, 600):  # 2 days ago, key A, out of order
        add(app, user_id, key_a, at(2), upstream_ms=ms)
    add(app, user_id, key_b, at(2, 23, 59, 59), "failed", upstream_ms=50, error_code="upstream_error")
    for ms in (30, 10, 20):
        add(app, user_id, key_a, at(1), upstream_ms=ms)
    add(app, user_id, key_a, at(1), "failed", error_code="upstream_timeout")
    add(app, user_id, key_b, at(1), "failed", error_code="upstream_timeout")
    add(app, user_id, key_b, at(1), "canceled")
    add(app, user_id, key_b, at(1), "queued")
    add(app, user_id, key_b, at(1), "running")
    add(app, user_id, key_a, at(1))  # answered from the cache: no upstream latency
    add(app, user_id, key_a, at(0, 0, 0, 0), upstream_ms=42)
    add(app, user_id, key_a, at(WINDOW_DAYS - 1, 0, 0, 0), upstream_ms=7)  # the window's first instant
    add(app, user_id, key_a, at(WINDOW_DAYS, 23, 59, 59), upstream_ms=9999)  # just before it
    other_id, _ = accounts.create("bob")
    add(app, other_id, first_key_id(app, other_id), at(2), upstream_ms=1)
    return user_id, key_a, key_b


def history(app, user_id: int, key_id: int | None = None):
    with app.app_context():
        user = db.session.get(User, user_id)
        key = db.session.get(ApiKey, key_id) if key_id else None
        return usage_history(user, key, today=TODAY)


def by_day(result) -> dict[int, object]:
    return {(TODAY - day.day).days: day for day in result.days}


def test_the_window_is_30_utc_days_ending_today_oldest_first():
    days = window(TODAY)
    assert len(days) == 30 and days[-1] == TODAY and days[0] == TODAY - timedelta(days=29)
    assert days == sorted(days)


def test_daily_counts_by_status_and_error_code_for_the_account(app, ada):
    user_id, _, _ = ada
    days = by_day(history(app, user_id))
    assert days[2].statuses == {"succeeded": 10, "failed": 1, "canceled": 0, "pending": 0}
    assert days[2].errors == {"upstream_error": 1}  # 23:59:59 stays on its own day
    assert days[1].statuses == {"succeeded": 4, "failed": 2, "canceled": 1, "pending": 2}
    assert days[1].errors == {"upstream_timeout": 2}
    assert days[0].predictions == 1 and days[29].predictions == 1
    assert sum(day.predictions for day in days.values()) == 11 + 9 + 1 + 1  # not the day before the window


def test_days_without_activity_are_zero_without_percentiles(app, ada):
    user_id, _, _ = ada
    quiet = by_day(history(app, user_id))[10]
    assert quiet.predictions == 0 and quiet.errors == {} and quiet.timed == 0
    assert quiet.p50 is None and quiet.p95 is None and quiet.requests == 0


def test_p50_and_p95_are_nearest_rank_per_day(app, ada):
    user_id, _, _ = ada
    days = by_day(history(app, user_id))
    # 11 latencies: 50, 100 … 1000. Ranks ⌈5.5⌉ = 6 and ⌈10.45⌉ = 11.
    assert (days[2].timed, days[2].p50, days[2].p95) == (11, 500, 1000)
    # 10, 20, 30 (the cached and failed ones have no latency): ranks 2 and 3.
    assert (days[1].timed, days[1].p50, days[1].p95) == (3, 20, 30)
    assert (days[0].p50, days[0].p95) == (42, 42)
    assert (days[29].p50, days[29].p95) == (7, 7)


def test_twenty_latencies_give_the_tenth_and_the_nineteenth(app, accounts):
    user_id, _ = accounts.create()
    key_id = first_key_id(app, user_id)
    for ms in range(20, 0, -1):
        add(app, user_id, key_id, at(3), upstream_ms=ms)
    day = by_day(history(app, user_id))[3]
    assert (day.p50, day.p95) == (10, 19)  # interpolation would give 10.5 and 19.05


def test_one_key_sees_only_its_own_predictions_and_percentiles(app, ada):
    user_id, key_a, key_b = ada
    a, b = by_day(history(app, user_id, key_a)), by_day(history(app, user_id, key_b))
    assert (a[2].statuses["succeeded"], a[2].p50, a[2].p95) == (10, 500, 1000)
    assert (b[2].statuses["failed"], b[2].p50, b[2].p95) == (1, 50, 50)
    assert b[1].statuses == {"succeeded": 0, "failed": 1, "canceled": 1, "pending": 2}
    assert a[1].errors == {"upstream_timeout": 1} and b[0].predictions == 0


def test_error_codes_are_listed_most_frequent_first(app, ada):
    user_id, _, _ = ada
    assert history(app, user_id).error_codes == ["upstream_timeout", "upstream_error"]


def test_an_empty_account_has_30_zero_days(app, accounts):
    user_id, _ = accounts.create()
    result = history(app, user_id)
    assert len(result.days) == 30 and result.total("predictions") == 0 and result.error_codes == []
    assert all(day.p95 is None for day in result.days) and result.requests_available


def test_requests_are_counted_per_day_for_the_account_and_for_the_key(app, accounts):
    user_id, _ = accounts.create()
    key_a, key_b = first_key_id(app, user_id), accounts.add_key(user_id).api_key.id
    with app.app_context():
        user = db.session.get(User, user_id)
        for _ in range(3):
            record_request(user, key_a)
        record_request(user, key_b)
        today = utcnow().date()
        overall, only_a = usage_history(user, today=today), usage_history(user, db.session.get(ApiKey, key_a), today)
    assert overall.days[-1].requests == 4 and only_a.days[-1].requests == 3
    assert overall.total("requests") == 4 and overall.days[-2].requests == 0


def test_request_counters_last_for_the_whole_window(app, accounts):
    user_id, _ = accounts.create()
    with app.app_context():
        record_request(db.session.get(User, user_id))
        ttls = [get_redis().ttl(name) for name in get_redis().scan_iter(f"{app.config['RATELIMIT_KEY_PREFIX']}:usage:*")]
    assert ttls and min(ttls) > WINDOW_DAYS * 24 * 3600


def test_unreadable_request_counters_are_unknown_not_zero(app, ada, monkeypatch):
    def refuse(*args, **kwargs):
        raise RedisConnectionError("down")

    monkeypatch.setattr(history_module, "daily_request_counts", refuse)
    user_id, _, _ = ada
    result = history(app, user_id)
    assert not result.requests_available and result.days[0].requests is None
    assert by_day(result)[2].p95 == 1000  # the database figures are still there
