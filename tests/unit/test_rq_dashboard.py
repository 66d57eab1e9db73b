"""rq-dashboard at /admin/rq: administrators only, on the app's Redis, reading jobs as JSON; and standalone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

import workers.predictions
from proxyapp.admin.dashboard import CSRF_COOKIE, URL_PREFIX
from proxyapp.admin.dashboard_server import standalone_app
from proxyapp.queue import get_queue, get_redis
from tests.conftest import CANONICAL_BODY, bearer, isolated_env
from tests.fake_upstream import FakeUpstream
from tests.webforms import sign_in
from workers import context

# What a job saw of the dashboard while it ran (see peek_at_workers_tab).
_seen_while_running: dict[str, object] = {}


@pytest.fixture
def queue(app: Flask) -> Iterator[Queue]:
    with app.app_context():
        yield get_queue()


def work_off(queue: Queue) -> None:
    """Run every queued job in this process, as a worker would."""
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)


def peek_at_workers_tab() -> None:
    """A job that loads the dashboard's workers data while a worker is busy running it."""
    response = _seen_while_running["client"].get(f"{URL_PREFIX}/0/data/workers.json")
    _seen_while_running["status"] = response.status_code
    _seen_while_running["workers"] = response.get_json()["workers"] if response.is_json else None


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(f"{URL_PREFIX}/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_signed_in_people_who_are_not_admins_get_403(client, accounts):
    accounts.create("ada")
    sign_in(client, "ada")
    for path in ("/", "/0/view/workers", "/0/data/queues.json"):
        assert client.get(f"{URL_PREFIX}{path}").status_code == 403, path
    assert client.get_cookie(CSRF_COOKIE, path=URL_PREFIX) is None


def test_admins_see_the_queue_of_the_apps_redis_with_its_json_jobs(app, admin_client, accounts, queue):
    assert app.config["RQ_DASHBOARD_REDIS_URL"] == (app.config["REDIS_URL"],)
    _, key = accounts.create("ada")
    prediction_id = admin_client.post("/v1/predictions", json=CANONICAL_BODY, headers=bearer(key)).get_json()["id"]
    page = admin_client.get(f"{URL_PREFIX}/")
    assert page.status_code == 200 and "RQ dashboard" in page.get_data(as_text=True)
    assert "'unsafe-eval'" in page.headers["Content-Security-Policy"]
    queues = admin_client.get(f"{URL_PREFIX}/0/data/queues.json").get_json()["queues"]
    assert {"name": queue.name, "count": 1}.items() <= next(q for q in queues if q["name"] == queue.name).items()
    job = admin_client.get(f"{URL_PREFIX}/0/data/job/{prediction_id}.json").get_json()
    assert job["status"] == "queued" and job["description"] == f"prediction {prediction_id}"


def test_a_busy_workers_job_is_shown_rather_than_breaking_the_workers_tab(admin_client, queue):
    _seen_while_running["client"] = admin_client
    queue.enqueue(f"{__name__}.peek_at_workers_tab", job_id="peek", description="peek at the workers tab")
    work_off(queue)
    assert _seen_while_running["status"] == 200
    (worker,) = [w for w in _seen_while_running["workers"] if queue.name in w["queues"]]
    assert worker["current_job"]["job_id"] == "peek"


def test_actions_need_the_csrf_token_and_requeue_all_refuses_get(admin_client, queue):
    queue.enqueue("proxyapp.no_such_job_function", job_id="broken", description="a job that fails")
    work_off(queue)
    assert queue.failed_job_registry.get_job_ids() == ["broken"]
    admin_client.get(f"{URL_PREFIX}/")
    token = admin_client.get_cookie(CSRF_COOKIE, path=URL_PREFIX).value
    assert admin_client.post(f"{URL_PREFIX}/job/broken/requeue").status_code == 400
    assert admin_client.get(f"{URL_PREFIX}/requeue/{queue.name}").status_code == 405
    requeued = admin_client.post(f"{URL_PREFIX}/job/broken/requeue", headers={"X-CSRFToken": token})
    assert requeued.status_code == 200 and queue.get_job_ids() == ["broken"]


@pytest.fixture
def standalone(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("APP_ENV", "testing")
    monkeypatch.setenv("REDIS_URL", redis_url)
    return standalone_app().test_client()


def test_the_standalone_dashboard_uses_redis_url_and_refuses_other_sites(standalone, app, queue):
    assert standalone.application.config["RQ_DASHBOARD_REDIS_URL"] == (app.config["REDIS_URL"],)
    assert standalone.get("/").status_code == 200
    queue.enqueue("proxyapp.no_such_job_function", job_id="doomed")
    assert standalone.post("/job/doomed/delete", headers={"Origin": "https://evil.example"}).status_code == 403
    assert standalone.get(f"/requeue/{queue.name}").status_code == 405
    deleted = standalone.post("/job/doomed/delete", headers={"Origin": "http://localhost"})
    assert deleted.get_json() == {"status": "OK"} and queue.get_job_ids() == []
    with app.app_context():
        assert not get_redis().exists("rq:job:doomed")


def finished_count(client: FlaskClient, queue: Queue) -> int:
    queues = client.get(f"{URL_PREFIX}/0/data/queues.json").get_json()["queues"]
    return next(q for q in queues if q["name"] == queue.name)["finished_job_registry_count"]


def submit_marked(client: FlaskClient, accounts, marker: str) -> str:
    _, key = accounts.create()
    body = {**CANONICAL_BODY, "history": [*CANONICAL_BODY["history"],
                                          {"code": "E11", "system": "ICD10CM", "display": f"Diabetes {marker}"}]}
    response = client.post("/v1/predictions", json=body, headers=bearer(key))
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


@pytest.fixture
def fake_upstream(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prediction jobs run in this process against a scripted upstream."""
    monkeypatch.setattr(workers.predictions, "get_upstream", lambda: FakeUpstream())
    context.set_app(app)


def test_every_page_leads_back_to_admin_and_says_what_finished_counts(admin_client):
    for path in ("/", "/0/view/workers", "/0/view/jobs"):
        html = admin_client.get(f"{URL_PREFIX}{path}").get_data(as_text=True)
        assert html.count('data-testid="proxyapp-bar"') == 1, path
        assert '<a href="/admin" data-testid="back-to-admin"' in html
        assert "ended less than 10 minutes ago" in html and "FINISHED_JOB_TTL" in html
    assert "proxyapp-bar" not in admin_client.get(f"{URL_PREFIX}/0/data/queues.json").get_data(as_text=True)


def test_finished_prediction_jobs_are_counted_for_a_bounded_time_without_patient_data(
        app, admin_client, accounts, queue, fake_upstream):
    marker = f"MARKER{uuid.uuid4().hex}"
    prediction_id = submit_marked(admin_client, accounts, marker)
    work_off(queue)
    assert finished_count(admin_client, queue) == 1
    with app.app_context():
        redis = get_redis()
        job = queue.fetch_job(prediction_id)
        assert job.get_status() == "finished" and job.return_value() == "succeeded"
        assert 0 < redis.ttl(job.key) <= app.config["FINISHED_JOB_TTL"]
        kept = [key for key in redis.scan_iter(f"rq:*{prediction_id}*")]
        stored = [repr(redis.hgetall(key) if redis.type(key) == b"hash" else redis.xrange(key)) for key in kept
                  if redis.type(key) in (b"hash", b"stream")]
    assert kept and stored
    assert all(marker not in text and "Diabetes" not in text for text in stored)


class TestWithoutFinishedJobs:
    @pytest.fixture
    def app_env(self, tmp_path, redis_url):
        return isolated_env(tmp_path, redis_url, FINISHED_JOB_TTL="0")

    def test_nothing_is_kept_and_the_bar_says_so(self, app, admin_client, accounts, queue, fake_upstream):
        prediction_id = submit_marked(admin_client, accounts, "x")
        work_off(queue)
        assert finished_count(admin_client, queue) == 0
        with app.app_context():
            assert queue.fetch_job(prediction_id) is None
        html = admin_client.get(f"{URL_PREFIX}/").get_data(as_text=True)
        assert "RQ keeps no finished jobs here" in html and "FINISHED_JOB_TTL=0" in html
        assert admin_client.get(f"/v1/predictions/{prediction_id}").status_code == 401  # the API wants a key


def test_the_standalone_dashboard_has_no_admin_bar(standalone):
    assert "proxyapp-bar" not in standalone.get("/").get_data(as_text=True)
