"""The usage page (charts, tables, key selector) and the predictions list (kind, key, times, paging, filter)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from proxyapp.extensions import db
from proxyapp.models import ApiKey, Prediction, utcnow
from proxyapp.services.limits import usage_history
from proxyapp.web.usage import PAGE_SIZE
from tests.conftest import bearer, isolated_env
from tests.databases import DATABASE_KINDS, temporary_database
from tests.webforms import sign_in


@pytest.fixture(params=DATABASE_KINDS)
def app_env(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """Cheap password hashing; SQLite and PostgreSQL (the figures are grouped by day in SQL)."""
    with temporary_database(request.param, tmp_path) as database_url:
        yield isolated_env(tmp_path, redis_url, DATABASE_URL=database_url)


@pytest.fixture
def ada(app, client, accounts):
    """A signed-in account: its id, first key's id and plaintext."""
    user_id, key = accounts.create("ada")
    sign_in(client, "ada")
    with app.app_context():
        key_id = db.session.scalar(select(ApiKey.id).where(ApiKey.user_id == user_id))
    return user_id, key_id, key


def add(app, user_id: int, key_id: int | None, **values) -> str:
    with app.app_context():
        now = utcnow()
        prediction = Prediction(user_id=user_id, api_key_id=key_id, **{"created_at": now, **values})
        db.session.add(prediction)
        db.session.commit()
        return prediction.id


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


class TestUsagePage:
    def test_the_account_page_links_to_it(self, client, ada):
        assert 'href="/account/usage"' in page(client, "/account")

    def test_an_empty_account_shows_four_charts_of_zeros_and_their_tables(self, client, ada):
        html = page(client, "/account/usage")
        assert html.count('role="img"') == 3 and "No failures in the last 30 days." in html
        for name in ("requests", "statuses", "latency"):
            assert f'data-testid="table-{name}"' in html and f'data-testid="chart-{name}"' in html
        assert "No predictions in the last 30 days." in html and "UTC days" in html
        rows = re.search(r'data-testid="table-statuses">.*?<tbody>(.*?)</tbody>', html, re.DOTALL).group(1)
        assert rows.count("<tr>") == 30 and "<rect" not in html.split('data-testid="chart-statuses"')[1].split("</svg>")[0]

    def test_figures_per_day_with_titles_for_each_bar(self, app, client, ada):
        user_id, key_id, key = ada
        for ms in (100, 200, 300):
            add(app, user_id, key_id, status="succeeded", upstream_ms=ms)
        add(app, user_id, key_id, status="failed", error_code="upstream_error")
        client.get("/v1/me", headers=bearer(key))
        html = page(client, "/account/usage")
        today = utcnow().date().isoformat()
        assert f"<title>{today}: succeeded 3</title>" in html and f"<title>{today}: upstream_error 1</title>" in html
        assert f"<title>{today}: p50 200 ms</title>" in html and f"<title>{today}: p95 300 ms</title>" in html
        assert f"<td>{today}</td><td>3</td><td>1</td><td>0</td><td>0</td>" in html  # succeeded, failed, canceled, pending
        assert f"<td>{today}</td><td>3</td><td>200 ms</td><td>300 ms</td>" in html
        assert f"<td>{today}</td><td><code>upstream_error</code> 1</td>" in html
        assert f"<td>{today}</td><td>1</td>" in html  # the /v1/me request
        assert 'data-testid="total-predictions">4<' in html

    def test_one_key_shows_only_its_figures(self, app, client, accounts, ada):
        user_id, key_id, _ = ada
        other = accounts.add_key(user_id, "ward 7").api_key
        add(app, user_id, key_id, status="succeeded")
        add(app, user_id, other.id, status="failed", error_code="upstream_timeout")
        html = page(client, f"/account/usage?key={other.id}")
        assert "ward 7" in html and f'<option value="{other.id}" selected>' in html
        assert 'data-testid="total-predictions">1<' in html and "upstream_timeout" in html
        assert 'data-testid="total-predictions">1<' in page(client, f"/account/usage?key={key_id}")

    def test_another_accounts_key_is_not_found(self, app, client, accounts, ada):
        other_id, _ = accounts.create("bob")
        with app.app_context():
            bobs_key = db.session.scalar(select(ApiKey.id).where(ApiKey.user_id == other_id))
        assert "No key with this id." in page(client, f"/account/usage?key={bobs_key}", 404)
        page(client, "/account/usage?key=999999", 404)

    @pytest.mark.parametrize("value", ["abc", "-1", "1.5", "9" * 40, "<script>"])
    def test_a_key_value_that_is_no_id_is_ignored_with_a_message(self, client, ada, value):
        html = page(client, f"/account/usage?key={value}")
        assert 'data-testid="usage-problem"' in html and "showing the whole account" in html
        assert "<script>" not in html

    def test_unreadable_request_counters_say_so(self, client, ada, monkeypatch):
        def refuse(*args, **kwargs):
            raise RedisConnectionError("down")

        monkeypatch.setattr(usage_history, "daily_request_counts", refuse)
        html = page(client, "/account/usage")
        assert 'data-testid="requests-unavailable"' in html and 'data-testid="table-statuses"' in html

    def test_signed_out_visitors_are_sent_to_sign_in(self, app):
        response = app.test_client().get("/account/usage")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


class TestPredictionsList:
    def test_rows_show_kind_key_status_error_code_and_times_to_the_second(self, app, client, ada):
        user_id, key_id, _ = ada
        created = datetime(2026, 3, 1, 9, 15, 7, tzinfo=UTC)
        prediction_id = add(app, user_id, key_id, kind="embedding", status="failed", error_code="upstream_error",
                            created_at=created, started_at=created + timedelta(seconds=2),
                            completed_at=created + timedelta(seconds=5))
        for html in (page(client, "/account"), page(client, "/account/predictions")):
            row = html.split(f'data-testid="prediction-{prediction_id}"')[1].split("</tr>")[0]
            assert f'href="/account/predictions/{prediction_id}"' in row and "embedding" in row
            assert "default <code>pxk_" in row and "<code class=\"change\">upstream_error</code>" in row
            assert "09:15:07 UTC" in row and "09:15:09 UTC" in row and "09:15:12 UTC" in row

    def test_pages_walk_back_by_id_without_repeats(self, app, client, ada):
        user_id, key_id, _ = ada
        ids = [add(app, user_id, key_id, status="succeeded") for _ in range(PAGE_SIZE + 3)]
        first = page(client, "/account/predictions")
        shown = re.findall(r'data-testid="prediction-([0-9A-Z]{26})"', first)
        assert shown == sorted(ids, reverse=True)[:PAGE_SIZE]
        older = re.search(r'data-testid="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        second = page(client, older)
        rest = re.findall(r'data-testid="prediction-([0-9A-Z]{26})"', second)
        assert rest == sorted(ids, reverse=True)[PAGE_SIZE:] and 'data-testid="older"' not in second
        assert "← Newest" in second

    def test_the_account_page_shows_20_and_links_to_older(self, app, client, ada):
        user_id, key_id, _ = ada
        for _ in range(21):
            add(app, user_id, key_id)
        html = page(client, "/account")
        assert html.count('data-testid="prediction-') == 20 and 'data-testid="older"' in html

    def test_the_status_filter_keeps_to_its_status_across_pages(self, app, client, ada):
        user_id, key_id, _ = ada
        failed = {add(app, user_id, key_id, status="failed") for _ in range(PAGE_SIZE + 1)}
        add(app, user_id, key_id, status="succeeded")
        first = page(client, "/account/predictions?status=failed")
        assert '<option value="failed" selected>' in first
        older = re.search(r'data-testid="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        assert "status=failed" in older
        shown = re.findall(r'data-testid="prediction-([0-9A-Z]{26})"', first + page(client, older))
        assert set(shown) == failed
        assert "No canceled predictions." in page(client, "/account/predictions?status=canceled")

    @pytest.mark.parametrize(("query", "message"), [
        ("status=done", "is not a status; showing predictions of every status"),
        ("status=<b>x</b>", "is not a status"),
        ("cursor=not-a-cursor", "That page link is not valid"),
    ])
    def test_invalid_filters_are_ignored_with_a_message(self, app, client, ada, query, message):
        user_id, key_id, _ = ada
        prediction_id = add(app, user_id, key_id, status="succeeded")
        html = page(client, f"/account/predictions?{query}")
        assert message in html and prediction_id in html and "<b>x</b>" not in html

    def test_other_accounts_predictions_are_not_listed(self, app, client, accounts, ada):
        other_id, _ = accounts.create("bob")
        theirs = add(app, other_id, None, status="succeeded")
        assert theirs not in page(client, "/account/predictions")
        assert theirs not in page(client, "/account")
