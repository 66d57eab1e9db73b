"""Operators' commands: `flask users list|disable|enable|set-limit`, `predictions stats|requeue-stuck`, `purge`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from devtools.embedded_redis import free_port
from proxyapp.extensions import db
from proxyapp.models import Prediction, User
from proxyapp.queue import get_queue
from tests.conftest import CANONICAL_BODY, add_prediction, audit_rows, bearer, invoke, isolated_env
from tests.databases import DATABASE_KINDS, temporary_database


class TestUsers:
    def test_list_shows_every_account_with_role_status_and_limits(self, app, accounts):
        for index in range(30):  # more than one page of the admin listing
            accounts.create(f"patient-{index:02d}")
        invoke(app, "users", "set-limit", "patient-07", "--rate-limit", "7/minute")
        result = invoke(app, "users", "list")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].split() == ["id", "username", "role", "status", "rate", "limit", "pending", "cap"]
        assert len(lines) == 31
        assert next(line for line in lines if "patient-07" in line).split()[2:] == ["user", "active", "7/minute",
                                                                                   "default"]
        assert [line.split()[1] for line in invoke(app, "users", "list", "--search", "T-2").output.splitlines()[1:]] \
            == [f"patient-{index}" for index in range(20, 30)]

    def test_disable_and_enable_are_audited_and_take_effect(self, app, client, accounts):
        _, key = accounts.create("bob")
        result = invoke(app, "users", "disable", "bob")
        assert result.exit_code == 0 and result.output == "bob is disabled.\n"
        assert client.get("/v1/me", headers=bearer(key)).status_code == 403
        assert invoke(app, "users", "enable", "bob").exit_code == 0
        assert client.get("/v1/me", headers=bearer(key)).status_code == 200
        assert audit_rows(app) == [("cli", "user.disabled", "bob", None), ("cli", "user.enabled", "bob", None)]

    def test_unknown_accounts_are_an_error(self, app):
        result = invoke(app, "users", "disable", "nobody")
        assert result.exit_code == 1 and "no account named 'nobody'" in result.output

    def test_set_limit_stores_and_audits_the_change_and_default_resets(self, app, client, accounts):
        _, key = accounts.create("bob")
        result = invoke(app, "users", "set-limit", "bob", "--rate-limit", "7/minute", "--max-pending", "3")
        assert result.exit_code == 0 and result.output == "bob: rate limit 7/minute, pending cap 3.\n"
        assert client.get("/v1/me", headers=bearer(key)).get_json()["limits"]["rate_limit"] == "7/minute"
        assert invoke(app, "users", "set-limit", "bob", "--rate-limit", "default").exit_code == 0
        with app.app_context():
            bob = db.session.scalar(select(User).where(User.username == "bob"))
            assert (bob.rate_limit, bob.max_pending) == (None, 3)
        assert [row[3] for row in audit_rows(app)] == [
            {"rate_limit": {"from": None, "to": "7/minute"}, "max_pending": {"from": None, "to": 3}},
            {"rate_limit": {"from": "7/minute", "to": None}},
        ]

    @pytest.mark.parametrize("args, message", [
        (["--rate-limit", "lots"], "100/minute"),
        (["--max-pending", "-1"], "whole number"),
        ([], "give --rate-limit, --max-pending or both"),
    ])
    def test_set_limit_refuses_bad_values(self, app, accounts, args, message):
        accounts.create("bob")
        result = invoke(app, "users", "set-limit", "bob", *args)
        assert result.exit_code == 2 and message in result.output
        assert audit_rows(app) == []


class TestPredictions:
    @pytest.fixture(params=DATABASE_KINDS)
    def app_env(self, request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
        """These commands group, count and compare dates in SQL: run them on SQLite and on PostgreSQL."""
        with temporary_database(request.param, tmp_path) as database_url:
            yield isolated_env(tmp_path, redis_url, DATABASE_URL=database_url, JOB_LEASE_SECONDS="0.3")

    def test_stats_counts_statuses_failures_the_queue_and_the_oldest_wait(self, app, accounts):
        user_id, _ = accounts.create()
        add_prediction(app, user_id, "queued", age=timedelta(seconds=90))
        add_prediction(app, user_id, "queued", age=timedelta(seconds=5))
        add_prediction(app, user_id, "succeeded", finished_ago=timedelta(0))
        for code in ("upstream_timeout", "upstream_timeout", "worker_lost"):
            add_prediction(app, user_id, "failed", finished_ago=timedelta(0), error_code=code)
        quiet_id, _ = accounts.create("quiet")
        add_prediction(app, quiet_id, "succeeded", age=timedelta(hours=2), finished_ago=timedelta(hours=2))
        add_prediction(app, quiet_id, "succeeded", age=timedelta(days=2), finished_ago=timedelta(days=2))
        stats = json.loads(invoke(app, "predictions", "stats", "--json").output)
        assert stats["predictions"] == {"queued": 2, "running": 0, "succeeded": 3, "failed": 3, "canceled": 0}
        assert stats["last_hour"] == {"queued": 2, "running": 0, "succeeded": 1, "failed": 3, "canceled": 0}
        assert stats["failures"] == {"upstream_timeout": 2, "worker_lost": 1}
        assert 90 <= stats["oldest_queued_age_seconds"] < 120
        assert (stats["queue_depth"], stats["live_workers"], stats["upstream_circuit"]) == (0, 0, "closed")
        busiest, quiet = stats["top_accounts"]
        assert (busiest["user_id"], busiest["predictions"], busiest["failed"]) == (user_id, 6, 3)
        assert quiet == {"user_id": quiet_id, "username": "quiet", "predictions": 1, "failed": 0}
        lines = invoke(app, "predictions", "stats").output.splitlines()
        assert lines[0].split() == ["predictions", "queued", "2", "running", "0", "succeeded", "3", "failed", "3",
                                    "canceled", "0"]
        assert lines[1].split()[:2] == ["last", "hour"] and lines[3].split()[-2:] == ["quiet", "1"]
        assert lines[-1] == "upstream     circuit closed"

    def test_requeue_stuck_re_enqueues_lost_predictions_and_fails_hopeless_ones(self, app, client, accounts):
        user_id, key = accounts.create()
        lost = add_prediction(app, user_id, "queued", age=timedelta(minutes=5))
        hopeless = add_prediction(app, user_id, "running", age=timedelta(minutes=5), runs=app.config["MAX_RUNS"])
        waiting = client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()["id"]
        result = invoke(app, "predictions", "requeue-stuck")
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[-1] == "Re-enqueued 1; failed 1 as worker_lost."
        with app.app_context():
            assert sorted(get_queue().get_job_ids()) == sorted([lost, waiting])
            assert db.session.get(Prediction, hopeless).error_code == "worker_lost"

    def test_purge_drops_the_data_of_predictions_past_retention_only(self, app, accounts):
        user_id, _ = accounts.create()
        old = add_prediction(app, user_id, "succeeded", age=timedelta(days=41), finished_ago=timedelta(days=40))
        recent = add_prediction(app, user_id, "succeeded", age=timedelta(days=2), finished_ago=timedelta(days=1))
        result = invoke(app, "purge")
        assert result.output == "Purged the data of 1 predictions finished more than 30 days ago.\n"
        with app.app_context():
            assert db.session.get(Prediction, old).input is None
            assert db.session.get(Prediction, old).purged_at is not None
            assert db.session.get(Prediction, recent).input == CANONICAL_BODY


class TestStatsWithoutRedis:
    @pytest.fixture
    def app_env(self, app_env: dict[str, str]) -> dict[str, str]:
        app_env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
        return app_env

    def test_stats_say_that_a_dependency_did_not_answer(self, app):
        result = invoke(app, "predictions", "stats")
        assert result.exit_code == 1
        assert result.output == "Error: the database or Redis did not answer (ConnectionError)\n"
