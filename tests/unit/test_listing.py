"""GET /v1/predictions: newest first, status filter, limit, stable cursor pagination."""

import pytest
from sqlalchemy import select, text

from proxyapp.extensions import db
from proxyapp.models import Prediction
from tests.conftest import CANONICAL_BODY, bearer


@pytest.fixture
def app_env(app_env):
    app_env.update({"RATE_LIMIT": "1000/minute", "MAX_PENDING": "1000"})
    return app_env


def create(client, key, count):
    return [client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()["id"]
            for _ in range(count)]


def test_newest_first_and_pages_stay_stable_while_new_predictions_arrive(client, accounts):
    _, key = accounts.create()
    ids = create(client, key, 5)
    first = client.get("/v1/predictions?limit=2", headers=bearer(key)).get_json()
    assert [p["id"] for p in first["data"]] == ids[::-1][:2]
    create(client, key, 3)  # newer predictions must not shift the pages already being walked
    second = client.get(f"/v1/predictions?limit=2&cursor={first['next_cursor']}", headers=bearer(key)).get_json()
    third = client.get(f"/v1/predictions?limit=2&cursor={second['next_cursor']}", headers=bearer(key)).get_json()
    assert [p["id"] for p in second["data"]] == ids[::-1][2:4]
    assert [p["id"] for p in third["data"]] == ids[::-1][4:]
    assert third["next_cursor"] is None


def test_status_filter_and_owner_only(client, accounts):
    _, key = accounts.create()
    _, other = accounts.create()
    ids = create(client, key, 3)
    create(client, other, 2)
    client.post(f"/v1/predictions/{ids[0]}/cancel", headers=bearer(key))
    canceled = client.get("/v1/predictions?status=canceled", headers=bearer(key)).get_json()["data"]
    assert [p["id"] for p in canceled] == [ids[0]]
    everything = client.get("/v1/predictions?limit=100", headers=bearer(key)).get_json()["data"]
    assert sorted(p["id"] for p in everything) == sorted(ids)


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("status=done", "status"),
     ("cursor=not-a-cursor", "cursor"), ("order=asc", "order")],
)
def test_invalid_query_is_422_naming_the_parameter(client, accounts, query, field):
    _, key = accounts.create()
    response = client.get(f"/v1/predictions?{query}", headers=bearer(key))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


@pytest.mark.parametrize("status", [None, "succeeded"])
def test_the_listing_reads_an_index_in_id_order_and_never_sorts_the_callers_rows(app, status):
    """50,000 rows or 5: a page costs the same, because no temp B-tree sorts them (SQLite's plan)."""
    with app.app_context():
        query = select(Prediction).where(Prediction.user_id == 1)
        if status:
            query = query.where(Prediction.status == status)
        query = query.where(Prediction.id < "01Z").order_by(Prediction.id.desc()).limit(21)
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " | ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "TEMP B-TREE" not in plan, plan
    assert "ix_predictions_user" in plan, plan
