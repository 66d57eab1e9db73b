"""Forgot password and the reset link: neutral answers, single-use hashed expiring links, sessions ended."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import select, update

from devtools.embedded_redis import free_port
from proxyapp.extensions import db
from proxyapp.models import AccountToken, AuditEvent, User, UserSession, utcnow
from proxyapp.queue import get_queue
from proxyapp.services.accounts.mail import MailNotSent, send_mail
from proxyapp.services.accounts.passwords import verify_password
from tests.conftest import PASSWORD, built_app, csrf_token, isolated_env
from tests.databases import DATABASE_KINDS, temporary_database
from tests.mailbox import Mailbox, body_of, link_in
from tests.recovery_helpers import confirm_email, queued_mail_jobs, run_mail_jobs
from tests.webforms import sign_in, submit

NEW_PASSWORD = "violet tractor orbits quietly"
PUBLIC = "https://proxy.example.org"


@pytest.fixture
def mailbox():
    with Mailbox("mailer", "s3cret pass") as box:
        yield box


@pytest.fixture
def app_env(tmp_path, redis_url, mailbox):
    return isolated_env(tmp_path, redis_url, SMTP_URL=mailbox.url.replace("s3cret pass", "s3cret%20pass"),
                     MAIL_FROM="Proxy <noreply@proxy.example.org>", PUBLIC_URL=PUBLIC)


@pytest.fixture
def ada(app, accounts):
    user_id, _ = accounts.create("ada")
    confirm_email(app, user_id, "Ada@Example.org")
    return user_id


def ask_reset(client, name: str):
    return submit(client, "/forgot-password", {"username": name})


def neutral(html: str) -> str:
    """The page without what differs per response anyway (the CSRF token)."""
    return re.sub(r'value="[^"]+"', "", html)


def reset_link(app, client, monkeypatch, mailbox, name: str = "ada") -> str:
    assert ask_reset(client, name).status_code == 200
    run_mail_jobs(app, monkeypatch)
    return link_in(mailbox.messages[-1])


def path_of(link: str) -> str:
    assert link.startswith(f"{PUBLIC}/reset-password/"), link
    return link.removeprefix(PUBLIC)


def choose(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    return submit(client, path, {"new_password": password, "confirm": confirm or password})


def post_anyway(client, path: str, password: str = NEW_PASSWORD):
    """POST a new password to a link whose page has no form any more (a valid CSRF token from elsewhere)."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(path, data={"new_password": password, "confirm": password, "csrf_token": token})


def test_the_sign_in_page_links_to_forgot_password(client):
    assert 'href="/forgot-password"' in client.get("/login").get_data(as_text=True)


def test_known_unknown_and_unconfirmed_names_get_the_same_answer_and_the_same_work(app, client, accounts, ada,
                                                                                  monkeypatch, mailbox):
    accounts.create("grace")  # no email at all
    pages = {name: ask_reset(client, name) for name in ("ada", "nobody-here", "grace", "ada@example.org")}
    assert {response.status_code for response in pages.values()} == {200}
    assert len({neutral(response.get_data(as_text=True)) for response in pages.values()}) == 1
    assert "a link to choose a new password is on its way" in pages["ada"].get_data(as_text=True)
    # Every request queued exactly one job: the lookup happens in the worker, for all of them alike.
    jobs = queued_mail_jobs(app)
    assert [job.args[0] for job in jobs] == ["ada", "nobody-here", "grace", "ada@example.org"]
    assert {job.description for job in jobs} == {"account mail"}  # no address in RQ's logs
    monkeypatch.setattr("workers.context._app", app)
    assert [job.func(*job.args) for job in jobs] == [1, 0, 0, 1]
    assert mailbox.recipients == [["Ada@Example.org"], ["Ada@Example.org"]]
    assert mailbox.authenticated == [True, True]  # the credentials of SMTP_URL, percent-decoded


def test_unconfirmed_or_disabled_accounts_get_no_mail(app, client, accounts, monkeypatch, mailbox):
    user_id, _ = accounts.create("lin")
    with app.app_context():
        db.session.get(User, user_id).email = "lin@example.org"  # typed at registration, never confirmed
        db.session.commit()
    ask_reset(client, "lin")
    ask_reset(client, "lin@example.org")
    confirm_email(app, user_id, "lin@example.org")
    with app.app_context():
        db.session.get(User, user_id).is_disabled = True
        db.session.commit()
    ask_reset(client, "lin")
    assert run_mail_jobs(app, monkeypatch) == [0, 0, 0]
    assert mailbox.messages == []


def test_the_mail_holds_a_link_under_public_url_whose_token_is_stored_hashed(app, client, ada, monkeypatch, mailbox):
    client.environ_base["HTTP_HOST"] = "evil.example"
    link = reset_link(app, client, monkeypatch, mailbox)
    message = mailbox.messages[0]
    assert message["From"] == "Proxy <noreply@proxy.example.org>" and message["Subject"] == "Reset your password"
    assert "30 minutes" in body_of(message) and "evil.example" not in body_of(message)
    token = path_of(link).rsplit("/", 1)[1]
    with app.app_context():
        rows = db.session.scalars(select(AccountToken)).all()
        assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
        assert token not in str([(row.token_hash, row.email) for row in rows])
        assert rows[0].expires_at - rows[0].created_at == timedelta(minutes=30)


def test_using_the_link_sets_the_password_ends_every_session_and_is_audited(app, client, accounts, ada,
                                                                            monkeypatch, mailbox):
    signed_in = app.test_client()
    sign_in(signed_in, "ada")
    assert signed_in.get("/account").status_code == 200
    path = path_of(reset_link(app, client, monkeypatch, mailbox))
    page = client.get(path)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    response = choose(client, path)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert signed_in.get("/account").status_code == 302  # the old session is gone
    with app.app_context():
        user = db.session.get(User, ada)
        assert verify_password(user.password_hash, NEW_PASSWORD)
        assert db.session.scalars(select(UserSession).where(UserSession.user_id == ada)).all() == []
        events = db.session.scalars(select(AuditEvent)).all()
        assert [(event.actor_username, event.action, event.target_username) for event in events] == [
            ("ada", "user.password_reset", "ada")]
    assert sign_in(client, "ada", NEW_PASSWORD).headers["Location"] == "/account"
    assert sign_in(app.test_client(), "ada", PASSWORD).status_code == 422


def test_a_used_link_no_longer_works_and_says_so(app, client, ada, monkeypatch, mailbox):
    path = path_of(reset_link(app, client, monkeypatch, mailbox))
    choose(client, path)
    for response in (client.get(path), post_anyway(client, path, "another long passphrase here")):
        assert response.status_code == 410
        assert "This link was already used" in response.get_data(as_text=True)
    with app.app_context():
        assert verify_password(db.session.get(User, ada).password_hash, NEW_PASSWORD)


def test_using_one_link_spends_every_other_reset_link_of_the_account(app, client, ada, monkeypatch, mailbox):
    first = path_of(reset_link(app, client, monkeypatch, mailbox))
    second = path_of(reset_link(app, client, monkeypatch, mailbox))
    choose(client, second)
    assert client.get(first).status_code == 410


def test_an_expired_link_is_refused_with_a_clear_page(app, client, ada, monkeypatch, mailbox):
    path = path_of(reset_link(app, client, monkeypatch, mailbox))
    with app.app_context():
        db.session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    for response in (client.get(path), post_anyway(client, path)):
        assert response.status_code == 410
        assert "This link has expired" in response.get_data(as_text=True)
        assert 'href="/forgot-password"' in response.get_data(as_text=True)


@pytest.mark.parametrize("token", ["not-a-token", "x" * 43])
def test_an_unknown_or_altered_token_is_404(client, token):
    response = client.get(f"/reset-password/{token}")
    assert response.status_code == 404 and "This link is not valid" in response.get_data(as_text=True)


def test_an_altered_character_of_a_real_token_is_404(app, client, ada, monkeypatch, mailbox):
    path = path_of(reset_link(app, client, monkeypatch, mailbox))
    altered = path[:-1] + ("A" if path[-1] != "A" else "B")
    assert client.get(altered).status_code == 404


@pytest.mark.parametrize(("password", "confirm", "message"), [
    ("short", "short", "Use at least 8 characters."),
    ("password123", "password123", "too common"),
    ("ada", "ada", "at least 8"),
    (NEW_PASSWORD, NEW_PASSWORD + "x", "The passwords do not match."),
])
def test_the_new_password_is_scored_as_at_registration_and_the_link_stays_usable(
        app, client, ada, monkeypatch, mailbox, password, confirm, message):
    path = path_of(reset_link(app, client, monkeypatch, mailbox))
    response = choose(client, path, password, confirm)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert choose(client, path).status_code == 302


def test_a_password_like_the_username_is_too_easy(app, client, accounts, monkeypatch, mailbox):
    user_id, _ = accounts.create("margaret.hamilton")
    confirm_email(app, user_id, "mh@example.org")
    path = path_of(reset_link(app, client, monkeypatch, mailbox, "margaret.hamilton"))
    response = choose(client, path, "margaret.hamilton1")
    assert response.status_code == 422 and "Too easy to guess" in response.get_data(as_text=True)


def test_the_reset_form_needs_its_csrf_token(app, client, ada, monkeypatch, mailbox):
    path = path_of(reset_link(app, client, monkeypatch, mailbox))
    assert client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 400


def test_forgot_password_is_limited_per_client_and_per_name(app_env, app, client, ada):
    limit = int(app.config["FORGOT_PASSWORD_RATE_LIMIT"].split("/")[0])
    for _ in range(limit):
        assert ask_reset(client, "ada").status_code == 200
    refused = ask_reset(client, "ada")
    assert refused.status_code == 429 and "Too many attempts" in refused.get_data(as_text=True)
    # Another client asking about the same name is refused too (the per-name window).
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert ask_reset(other, "ADA ").status_code == 429
    assert ask_reset(other, "someone-else").status_code == 200


def test_an_empty_request_is_shown_again_with_an_error(client):
    response = ask_reset(client, "")
    assert response.status_code == 422 and "This field is required." in response.get_data(as_text=True)


class TestSmtpDown:
    @pytest.fixture
    def app_env(self, tmp_path, redis_url):
        return isolated_env(tmp_path, redis_url, SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
                         MAIL_FROM="noreply@proxy.example.org", PUBLIC_URL=PUBLIC)

    def test_the_person_still_gets_the_neutral_answer_and_the_failure_is_logged_without_address_or_token(
            self, app, client, ada, monkeypatch, caplog):
        response = ask_reset(client, "ada@example.org")
        assert response.status_code == 200 and "on its way" in response.get_data(as_text=True)
        (job,) = queued_mail_jobs(app)
        assert job.retries_left == 3  # RQ tries again later, while the server may come back
        monkeypatch.setattr("workers.context._app", app)
        with caplog.at_level(logging.DEBUG), pytest.raises(MailNotSent) as raised:
            job.func(*job.args)
        assert "ConnectionRefusedError" in str(raised.value)
        assert "password reset mail not sent" in caplog.text
        with app.app_context():
            token_hash = db.session.scalar(select(AccountToken.token_hash))
        logged = caplog.text + str(raised.value) + "".join(str(record.__dict__) for record in caplog.records)
        assert "example.org" not in logged.replace("proxy.example.org", "")
        assert "Ada@Example.org".lower() not in logged.lower() and token_hash not in logged


    def test_a_worker_schedules_the_failed_mail_again(self, app, client, ada, monkeypatch):
        ask_reset(client, "ada")
        monkeypatch.setattr("workers.context._app", app)
        with app.app_context():
            queue = get_queue()
            SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)
            (job_id,) = ScheduledJobRegistry(queue=queue).get_job_ids()
            assert queue.fetch_job(job_id).retries_left == 2


class TestWithoutSmtp:
    @pytest.fixture
    def app_env(self, tmp_path, redis_url):
        return isolated_env(tmp_path, redis_url)

    def test_the_page_says_to_contact_the_operator(self, app, client, ada):
        token = csrf_token(client.get("/login").get_data(as_text=True))
        posted = client.post("/forgot-password", data={"username": "ada", "csrf_token": token})
        for response in (client.get("/forgot-password"), posted):
            text = response.get_data(as_text=True)
            assert response.status_code == 200 and "Contact the operator of this service" in text
            assert "Send reset link" not in text
        assert queued_mail_jobs(app) == []

    def test_the_operator_contact_is_shown_when_configured(self, app, client):
        app.config["OPERATOR_CONTACT"] = "it-help@clinic.example"
        text = client.get("/forgot-password").get_data(as_text=True)
        assert 'href="mailto:it-help@clinic.example"' in text


class TestOnEachDatabase:
    @pytest.fixture(params=DATABASE_KINDS)
    def app_env(self, request, tmp_path, redis_url, mailbox):
        """Tokens are compared, spent and expired in SQL: on SQLite and on PostgreSQL."""
        with temporary_database(request.param, tmp_path) as database_url:
            yield isolated_env(tmp_path, redis_url, DATABASE_URL=database_url, SMTP_URL=mailbox.url,
                            MAIL_FROM="noreply@proxy.example.org", PUBLIC_URL=PUBLIC)

    def test_a_link_works_once_spends_the_others_and_expires(self, app, client, ada, monkeypatch, mailbox):
        signed_in = app.test_client()
        sign_in(signed_in, "ada")
        first = path_of(reset_link(app, client, monkeypatch, mailbox, "ada@example.org"))
        second = path_of(reset_link(app, client, monkeypatch, mailbox))
        assert choose(client, first).status_code == 302
        assert signed_in.get("/account").status_code == 302
        assert client.get(first).status_code == 410 and client.get(second).status_code == 410
        third = path_of(reset_link(app, client, monkeypatch, mailbox))
        with app.app_context():
            db.session.execute(update(AccountToken).where(AccountToken.used_at.is_(None))
                               .values(expires_at=utcnow() - timedelta(seconds=1)))
            db.session.commit()
        assert "This link has expired" in client.get(third).get_data(as_text=True)


@pytest.mark.parametrize(("scheme", "error"), [("smtps", "SSLError"), ("smtp+starttls", "SMTPNotSupportedError")])
def test_tls_schemes_never_fall_back_to_plain_text(tmp_path, redis_url, monkeypatch, mailbox, scheme, error):
    """Against a server without TLS, smtps:// and smtp+starttls:// fail; nothing goes out unencrypted."""
    env = isolated_env(tmp_path, redis_url, SMTP_URL=f"{scheme}://127.0.0.1:{mailbox.port}", MAIL_FROM="a@proxy.test")
    with built_app(env, tmp_path, monkeypatch) as application, application.app_context(), \
            pytest.raises(MailNotSent, match=error):
        send_mail("ada@example.org", "Subject", "Body")
    assert mailbox.messages == []
