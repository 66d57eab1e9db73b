"""/admin's system overview (the reading `flask predictions stats` prints) and revoking one key of an account."""

from __future__ import annotations

import re
from datetime import timedelta

from redis.exceptions import ConnectionError as RedisConnectionError

from proxyapp.extensions import db
from proxyapp.models import ApiKey
from proxyapp.queue import get_redis
from proxyapp.services.operations import overview as figures
from proxyapp.services.upstream.circuit import circuit_breaker
from tests.conftest import CANONICAL_BODY, add_prediction, audit_rows, bearer
from tests.webforms import sign_in, submit


def figure(html: str, testid: str) -> str:
    """The text of the element with this data-testid (tags stripped)."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:dd|p|table)>', html, re.DOTALL)
    assert match, f"no {testid} on the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_overview_shows_the_queue_workers_circuit_last_hour_and_busiest_accounts(app, admin_client, accounts):
    bob_id, bob_key = accounts.create("bob")
    ada_id, _ = accounts.create("ada")
    assert admin_client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(bob_key)).status_code == 202
    add_prediction(app, bob_id, "queued", age=timedelta(seconds=95))
    add_prediction(app, bob_id, "failed", finished_ago=timedelta(0), error_code="upstream_timeout")
    add_prediction(app, ada_id, "succeeded", finished_ago=timedelta(0))
    add_prediction(app, ada_id, "succeeded", age=timedelta(hours=3), finished_ago=timedelta(hours=3))
    with app.app_context():
        get_redis().set(circuit_breaker().open_key, "1", ex=30)

    html = admin_client.get("/admin").get_data(as_text=True)
    assert figure(html, "queue-depth") == "1"  # the submitted job; the row added directly has no job
    assert re.fullmatch(r"9\d s", figure(html, "oldest-queued"))
    assert figure(html, "live-workers") == "0" and "No worker is running" in html
    assert figure(html, "circuit") == "open" and "circuit is open" in html
    assert [figure(html, f"last-hour-{status}") for status in ("queued", "running", "succeeded", "failed")] == [
        "2", "0", "1", "1"]
    busiest = re.findall(r'<tr><td><a href="/admin/users/(\d+)">(\w+)</a></td><td>(\d+)</td><td>(\d+)</td></tr>',
                         html)
    assert busiest == [(str(bob_id), "bob", "3", "1"), (str(ada_id), "ada", "2", "0")]
    assert 'href="/admin/rq/"' in html


def test_a_quiet_system_says_so(admin_client):
    html = admin_client.get("/admin").get_data(as_text=True)
    assert figure(html, "queue-depth") == "0" and figure(html, "oldest-queued") == "—"
    assert figure(html, "circuit") == "closed" and "circuit is" not in html
    assert "No predictions in the last 24 hours." in html


def test_the_page_still_serves_accounts_when_a_figure_source_does_not_answer(admin_client, accounts, monkeypatch):
    accounts.create("bob")

    def redis_down() -> int:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(figures, "queue_depth", redis_down)
    response = admin_client.get("/admin")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "bob" in html
    assert "did not answer" in figure(html, "figures-unavailable")
    assert 'data-testid="queue-depth"' not in html


def key_ids(app, user_id: int) -> list[int]:
    with app.app_context():
        return [row.id for row in ApiKey.query.filter_by(user_id=user_id).order_by(ApiKey.id)]


def test_an_admin_revokes_one_key_and_it_stops_working_at_once(app, admin_client, accounts):
    bob_id, leaked = accounts.create("bob")
    kept = accounts.add_key(bob_id, "ci").plaintext
    leaked_id, kept_id = key_ids(app, bob_id)
    page = f"/admin/users/{bob_id}"
    assert admin_client.get("/v1/me", headers=bearer(leaked)).status_code == 200
    html = admin_client.get(page).get_data(as_text=True)
    assert f'data-testid="admin-revoke-{leaked_id}"' in html and f"/keys/{leaked_id}/revoke" in html

    response = submit(admin_client, page, {}, f"{page}/keys/{leaked_id}/revoke")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{page}#keys-heading")
    refused = admin_client.get("/v1/me", headers=bearer(leaked))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert admin_client.get("/v1/me", headers=bearer(kept)).status_code == 200  # the account still works
    assert admin_client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(kept)).status_code == 202
    html = admin_client.get(page).get_data(as_text=True)
    assert "is revoked; it is refused from now on." in html
    assert f'data-testid="admin-revoke-{leaked_id}"' not in html and f'data-testid="admin-revoke-{kept_id}"' in html
    assert "badge-active\">active" in html and "badge-disabled" not in html
    ((actor, _, target, details),) = [row for row in audit_rows(app) if row[1] == "key.revoked"]
    with app.app_context():
        revoked = db.session.get(ApiKey, leaked_id)
        assert revoked.revoked_at is not None
        label = f"{revoked.name} ({revoked.display_prefix}…)"
    assert (actor, target, details) == ("root", "bob", {"key": {"from": label, "to": "revoked"}})

    submit(admin_client, page, {}, f"{page}/keys/{leaked_id}/revoke")  # again: nothing changes
    assert [row[1] for row in audit_rows(app)].count("key.revoked") == 1


def test_a_key_of_another_account_or_without_csrf_is_refused(app, admin_client, client, accounts):
    bob_id, _ = accounts.create("bob")
    ada_id, ada_key = accounts.create("ada")
    (ada_key_id,) = key_ids(app, ada_id)
    assert submit(admin_client, f"/admin/users/{bob_id}", {}, f"/admin/users/{bob_id}/keys/{ada_key_id}/revoke"
                  ).status_code == 404
    assert admin_client.post(f"/admin/users/{ada_id}/keys/{ada_key_id}/revoke").status_code == 400  # no token
    assert admin_client.get("/v1/me", headers=bearer(ada_key)).status_code == 200
    assert [row[1] for row in audit_rows(app)].count("key.revoked") == 0


def test_people_who_are_not_admins_cannot_revoke(app, accounts):
    bob_id, bob_key = accounts.create("bob")
    (bob_key_id,) = key_ids(app, bob_id)
    ada = app.test_client()
    accounts.create("ada")
    sign_in(ada, "ada")
    assert submit(ada, "/account", {}, f"/admin/users/{bob_id}/keys/{bob_key_id}/revoke").status_code == 403
    assert app.test_client().get("/v1/me", headers=bearer(bob_key)).status_code == 200
