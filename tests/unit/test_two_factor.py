"""Two-factor sign-in: enrolment, the sign-in's code step, replay, recovery codes, turning it off, REQUIRE_ADMIN_2FA.

The server's clock for TOTP is a fixture (`clock`) so that steps can be stepped through; the
pending sign-in's expiry is checked by moving itsdangerous's clock past PENDING_LIFETIME.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select, text

from config import CONFIGS, ConfigError, DevelopmentConfig
from proxyapp.extensions import db
from proxyapp.models import AuditEvent, RecoveryCode, TwoFactor, User, UserSession
from proxyapp.services.accounts.lifecycle import create_admin
from proxyapp.services.signin import two_factor
from proxyapp.web.second_factor import PENDING_LIFETIME
from tests.conftest import PASSWORD, isolated_env
from tests.databases import DATABASE_KINDS, temporary_database
from tests.webforms import sign_in, sign_out, submit

SECRET_PATTERN = r'data-testid="two-factor-secret">([A-Z2-7]+)<'
CODE_PATTERN = r"<li><code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code></li>"


class Clock:
    """The two-factor service's clock: starts at the real time, moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def code(self, totp: pyotp.TOTP, steps: int = 0) -> str:
        """The code of the current step, or of one `steps` away."""
        return totp.at(self.now + timedelta(seconds=30 * steps))


@pytest.fixture(params=DATABASE_KINDS)
def app_env(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """Codes are claimed by conditional UPDATEs: run on SQLite and on PostgreSQL."""
    with temporary_database(request.param, tmp_path) as database_url:
        yield isolated_env(tmp_path, redis_url, DATABASE_URL=database_url)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(two_factor, "utcnow", frozen)
    return frozen


class Enrolled:
    """An account with two-factor sign-in on: its app (TOTP) and recovery codes."""

    def __init__(self, user_id: int, username: str, totp: pyotp.TOTP, codes: list[str]) -> None:
        self.user_id, self.username, self.totp, self.codes = user_id, username, totp, codes


def start_enrolment(client, password: str = PASSWORD):
    return submit(client, "/account/two-factor", {"password": password})


def confirm(client, code: str):
    return submit(client, "/account", {"code": code}, "/account/two-factor/confirm")


def enrol(client, clock: Clock) -> tuple[pyotp.TOTP, list[str]]:
    """Turn two-factor sign-in on for the signed-in account; the app and the codes shown."""
    page = start_enrolment(client).get_data(as_text=True)
    totp = pyotp.TOTP(re.search(SECRET_PATTERN, page).group(1))
    done = confirm(client, clock.code(totp))
    assert done.status_code == 200, done.get_data(as_text=True)
    return totp, re.findall(CODE_PATTERN, done.get_data(as_text=True))


@pytest.fixture
def enrolled(app, client, accounts, clock) -> Enrolled:
    user_id, _ = accounts.create("ada")
    sign_in(client, "ada")
    totp, codes = enrol(client, clock)
    sign_out(client)
    clock.advance(30)  # the enrolment's code is used up; the next step's code is fresh
    return Enrolled(user_id, "ada", totp, codes)


def enter_code(client, code: str, **kwargs: object):
    """Submit the code step (the CSRF token from the sign-in page: the step itself may redirect)."""
    return submit(client, "/login", {"code": code}, "/login/code", **kwargs)


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def session_rows(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(UserSession)).all())


class TestEnrolment:
    def test_the_password_is_needed_before_a_secret_is_made(self, app, client, accounts, clock):
        accounts.create("ada")
        sign_in(client, "ada")
        wrong = start_enrolment(client, "wrong password")
        assert wrong.status_code == 422 and "The password is wrong." in wrong.get_data(as_text=True)
        with app.app_context():
            assert db.session.scalars(select(TwoFactor)).all() == []

    def test_the_page_shows_a_local_qr_code_and_the_secret_and_is_never_cached(self, client, accounts, clock):
        accounts.create("ada")
        sign_in(client, "ada")
        page = start_enrolment(client)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        assert re.search(r'<svg viewBox="0 0 \d+ \d+" class="segno"><title>', html)
        assert re.search(SECRET_PATTERN, html)
        assert "http" not in html.split('data-testid="two-factor-qr"')[1].split("</figure>")[0]  # no image service

    def test_a_wrong_code_does_not_finish_enrolment_and_shows_the_secret_again(self, app, client, accounts, clock):
        accounts.create("ada")
        sign_in(client, "ada")
        totp = pyotp.TOTP(re.search(SECRET_PATTERN, start_enrolment(client).get_data(as_text=True)).group(1))
        wrong = confirm(client, clock.code(totp, steps=5))
        assert wrong.status_code == 422 and "not right" in wrong.get_data(as_text=True)
        assert totp.secret in wrong.get_data(as_text=True)
        with app.app_context():
            assert not two_factor.is_enrolled(db.session.get(User, 1))
        assert confirm(client, clock.code(totp)).status_code == 200

    def test_an_unfinished_enrolment_expires(self, client, accounts, clock):
        accounts.create("ada")
        sign_in(client, "ada")
        totp = pyotp.TOTP(re.search(SECRET_PATTERN, start_enrolment(client).get_data(as_text=True)).group(1))
        clock.advance(two_factor.ENROLMENT_LIFETIME.total_seconds() + 60)
        late = confirm(client, clock.code(totp))
        assert late.status_code == 302 and late.headers["Location"].endswith("/account/two-factor")

    def test_ten_codes_are_shown_once_and_only_hashes_and_the_encrypted_secret_are_stored(self, app, client,
                                                                                           enrolled):
        assert len(enrolled.codes) == 10 and len(set(enrolled.codes)) == 10
        with app.app_context():
            raw = db.session.execute(text("SELECT secret FROM two_factor")).scalar_one()
            hashes = db.session.execute(text("SELECT code_hash, salt FROM recovery_codes")).all()
        assert raw.startswith("gAAAAA") and enrolled.totp.secret not in raw
        stored = " ".join(f"{code_hash} {salt}" for code_hash, salt in hashes)
        assert len(hashes) == 10 and not any(code.replace("-", "") in stored for code in enrolled.codes)
        assert audit_actions(app) == ["two_factor.enabled"]

    def test_the_account_page_says_it_is_on_and_counts_the_codes(self, client, enrolled, clock):
        sign_in(client, "ada")
        enter_code(client, clock.code(enrolled.totp))
        page = client.get("/account").get_data(as_text=True)
        assert "Two-factor sign-in" in page and "10 unused recovery codes left." in page
        assert client.get("/account/two-factor").headers["Location"].endswith("/account")


class TestSignIn:
    def test_the_password_alone_signs_nobody_in_and_the_code_step_cannot_be_skipped(self, app, enrolled):
        client = app.test_client()  # a browser that never signed in to the account
        first = sign_in(client, "ada")
        assert first.status_code == 302 and first.headers["Location"].endswith("/login/code")
        assert client.get("/account").status_code == 302
        assert client.get("/account/two-factor").status_code == 302
        assert client.get_cookie("known_device") is None and session_rows(app) == 0
        step = client.get("/login/code")
        assert step.status_code == 200 and 'data-testid="pending-username">ada<' in step.get_data(as_text=True)

    def test_the_right_code_signs_in_to_the_next_page(self, app, client, enrolled, clock):
        sign_in(client, "ada", query_string={"next": "/account/password"})
        response = submit(client, "/login/code", {"code": clock.code(enrolled.totp)})
        assert response.status_code == 302
        assert client.get("/account").status_code == 200 and session_rows(app) == 1
        assert client.get_cookie("known_device") is not None

    def test_a_wrong_code_is_refused(self, client, enrolled, clock):
        sign_in(client, "ada")
        wrong = enter_code(client, clock.code(enrolled.totp, steps=3))
        assert wrong.status_code == 422 and "not right" in wrong.get_data(as_text=True)
        assert client.get("/account").status_code == 302

    def test_a_code_of_the_step_either_side_is_accepted(self, app, enrolled, clock):
        for steps in (-1, 1):
            client = app.test_client()
            clock.advance(90)
            sign_in(client, "ada")
            assert enter_code(client, clock.code(enrolled.totp, steps=steps)).status_code == 302

    def test_a_used_code_is_refused_within_its_window(self, app, enrolled, clock):
        code = clock.code(enrolled.totp)
        first, second = app.test_client(), app.test_client()
        sign_in(first, "ada")
        assert enter_code(first, code).status_code == 302
        sign_in(second, "ada")
        assert enter_code(second, code).status_code == 422  # same step: a replay
        assert enter_code(second, clock.code(enrolled.totp, steps=-1)).status_code == 422  # an older one too
        assert enter_code(second, clock.code(enrolled.totp, steps=1)).status_code == 302

    def test_the_pending_step_expires(self, client, enrolled, clock, monkeypatch):
        sign_in(client, "ada")
        later = int(time.time() + PENDING_LIFETIME.total_seconds() + 1)
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
        expired = enter_code(client, clock.code(enrolled.totp))
        assert expired.status_code == 302 and expired.headers["Location"].endswith("/login")
        assert client.get("/account").status_code == 302
        assert "not finished in time" in client.get("/login").get_data(as_text=True)

    def test_a_forged_or_missing_pending_state_goes_back_to_the_password(self, client, enrolled, clock):
        assert client.get("/login/code").headers["Location"].endswith("/login")
        with client.session_transaction() as session:
            session["_second_factor"] = "eyJpZCI6MX0.forged.signature"
        assert enter_code(client, clock.code(enrolled.totp)).headers["Location"].endswith("/login")

    def test_a_password_change_voids_a_pending_sign_in(self, app, client, enrolled, clock):
        sign_in(client, "ada")
        owner = app.test_client()
        sign_in(owner, "ada")
        enter_code(owner, clock.code(enrolled.totp))
        new = "an entirely different passphrase"
        submit(owner, "/account/password", {"current_password": PASSWORD, "new_password": new, "confirm": new})
        assert enter_code(client, clock.code(enrolled.totp, steps=1)).headers["Location"].endswith("/login")

    def test_a_recovery_code_signs_in_once(self, app, enrolled, clock):
        code = enrolled.codes[3]
        first = app.test_client()
        sign_in(first, "ada")
        assert enter_code(first, code.upper().replace("-", " ")).status_code == 302  # typed loosely
        assert "9 left" in first.get("/account").get_data(as_text=True)
        again = app.test_client()
        sign_in(again, "ada")
        assert enter_code(again, code).status_code == 422
        assert audit_actions(app) == ["two_factor.enabled", "two_factor.recovery_code_used"]


class TestThrottling:
    def test_wrong_codes_are_refused_with_429_like_wrong_passwords(self, client, enrolled, clock):
        sign_in(client, "ada")
        for attempt in range(5):
            assert enter_code(client, f"{attempt:06d}").status_code == 422
        blocked = enter_code(client, clock.code(enrolled.totp))
        assert blocked.status_code == 429 and "Please wait" in blocked.get_data(as_text=True)
        assert 1 <= int(blocked.headers["Retry-After"]) <= 61
        assert client.get("/account").status_code == 302

    def test_wrong_passwords_and_wrong_codes_fill_the_same_window(self, app, enrolled, clock):
        guesser = app.test_client()
        for _ in range(3):
            assert sign_in(guesser, "ada", "wrong password").status_code == 422
        sign_in(guesser, "ada")
        for _ in range(2):
            assert enter_code(guesser, "000000").status_code == 422
        assert enter_code(guesser, clock.code(enrolled.totp)).status_code == 429
        assert sign_in(guesser, "ada").status_code == 429

    def test_a_wrong_code_when_turning_it_off_counts_too(self, client, enrolled, clock):
        sign_in(client, "ada")
        enter_code(client, clock.code(enrolled.totp))
        for _ in range(5):
            assert submit(client, "/account/two-factor/disable",
                          {"password": PASSWORD, "code": "000000"}).status_code == 422
        assert submit(client, "/account/two-factor/disable",
                      {"password": PASSWORD, "code": clock.code(enrolled.totp, 1)}).status_code == 429


class TestRecoveryCodesAndDisabling:
    @pytest.fixture
    def signed_in(self, client, enrolled, clock) -> Enrolled:
        sign_in(client, "ada")
        assert enter_code(client, clock.code(enrolled.totp)).status_code == 302
        clock.advance(30)
        return enrolled

    def test_new_codes_need_the_password_or_a_current_code_and_replace_the_old_ones(self, app, client, signed_in,
                                                                                    clock):
        page = "/account/two-factor/recovery-codes"
        for wrong in ("wrong password", "000000"):
            refused = submit(client, page, {"password_or_code": wrong})
            assert refused.status_code == 422 and "Neither your password" in refused.get_data(as_text=True)
        by_password = submit(client, page, {"password_or_code": PASSWORD})
        assert by_password.headers["Cache-Control"] == "no-store"
        fresh = re.findall(CODE_PATTERN, by_password.get_data(as_text=True))
        assert len(fresh) == 10 and not set(fresh) & set(signed_in.codes)
        by_code = submit(client, page, {"password_or_code": clock.code(signed_in.totp)})
        assert len(re.findall(CODE_PATTERN, by_code.get_data(as_text=True))) == 10
        other = app.test_client()
        sign_in(other, "ada")
        assert enter_code(other, signed_in.codes[0]).status_code == 422  # the first set is void
        assert audit_actions(app)[-2:] == ["two_factor.recovery_codes_regenerated"] * 2

    def test_turning_it_off_needs_a_code(self, app, client, signed_in):
        without = submit(client, "/account/two-factor/disable", {"password": PASSWORD, "code": ""})
        assert without.status_code == 422 and "This field is required." in without.get_data(as_text=True)
        wrong = submit(client, "/account/two-factor/disable", {"password": PASSWORD, "code": "123456"})
        assert wrong.status_code == 422
        with app.app_context():
            assert two_factor.is_enrolled(db.session.get(User, signed_in.user_id))

    def test_turning_it_off_needs_the_password(self, app, client, signed_in, clock):
        wrong = submit(client, "/account/two-factor/disable",
                       {"password": "wrong password", "code": clock.code(signed_in.totp)})
        assert wrong.status_code == 422 and "The password is wrong." in wrong.get_data(as_text=True)
        with app.app_context():
            assert two_factor.is_enrolled(db.session.get(User, signed_in.user_id))

    def test_turned_off_the_password_alone_signs_in_again(self, app, client, signed_in, clock):
        done = submit(client, "/account/two-factor/disable", {"password": PASSWORD, "code": clock.code(signed_in.totp)})
        assert done.headers["Location"].endswith("/account")
        with app.app_context():
            assert db.session.scalars(select(TwoFactor)).all() == [] == db.session.scalars(select(RecoveryCode)).all()
        sign_out(client)
        assert sign_in(client, "ada").headers["Location"].endswith("/account")
        assert audit_actions(app)[-1] == "two_factor.disabled"

    def test_the_operator_can_turn_it_off_from_the_command_line(self, app, signed_in):
        result = app.test_cli_runner().invoke(args=["users", "disable-2fa", "ada"])
        assert result.exit_code == 0 and "two-factor sign-in is off" in result.output
        again = app.test_cli_runner().invoke(args=["users", "disable-2fa", "ada"])
        assert again.exit_code == 1 and "does not use two-factor sign-in" in again.output
        with app.app_context():
            event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
            assert (event.action, event.actor_username) == ("two_factor.disabled", "cli")

    def test_data_reencrypt_rewrites_the_secrets(self, app, signed_in, clock):
        with app.app_context():
            before = db.session.execute(text("SELECT secret FROM two_factor")).scalar_one()
        result = app.test_cli_runner().invoke(args=["data", "reencrypt"])
        assert "Re-encrypted 1 two-factor secrets under the newest key." in result.output
        with app.app_context():
            after = db.session.execute(text("SELECT secret FROM two_factor")).scalar_one()
            assert after != before and db.session.get(TwoFactor, signed_in.user_id).secret == signed_in.totp.secret


class TestRequiredForAdmins:
    @pytest.fixture
    def app_env(self, app_env):
        return {**app_env, "REQUIRE_ADMIN_2FA": "1"}

    def test_an_admin_without_two_factor_is_sent_to_enrolment(self, admin_client):
        for page in ("/admin", "/admin/users/1", "/admin/rq/"):
            blocked = admin_client.get(page)
            assert blocked.status_code == 302 and blocked.headers["Location"].endswith("/account/two-factor")
        enrol_page = admin_client.get("/account/two-factor").get_data(as_text=True)
        assert "Administrators must turn on two-factor sign-in" in enrol_page
        assert "requires administrators to use two-factor sign-in" in enrol_page

    def test_an_enrolled_admin_opens_the_admin_pages_and_cannot_turn_it_off(self, admin_client, clock):
        enrol(admin_client, clock)
        assert admin_client.get("/admin").status_code == 200
        refused = admin_client.get("/account/two-factor/disable")
        assert refused.status_code == 302
        assert "cannot be turned off" in admin_client.get("/account").get_data(as_text=True)

    def test_people_who_are_not_admins_are_not_asked(self, client, accounts):
        accounts.create("bob")
        sign_in(client, "bob")
        assert client.get("/account").status_code == 200
        assert client.get("/admin").status_code == 403


def test_admins_are_not_required_to_enrol_unless_configured(app, client):
    with app.app_context():
        create_admin("root", PASSWORD)
    sign_in(client, "root")
    assert client.get("/admin").status_code == 200


@pytest.mark.parametrize(("app_env_name", "env", "expected"), [
    ("development", {}, False), ("testing", {}, False), ("production", {}, True),
    ("production", {"REQUIRE_ADMIN_2FA": "0"}, False), ("development", {"REQUIRE_ADMIN_2FA": "true"}, True),
])
def test_require_admin_2fa_is_on_in_production_unless_turned_off(app_env_name, env, expected):
    assert CONFIGS[app_env_name](env).REQUIRE_ADMIN_2FA is expected


def test_require_admin_2fa_must_be_a_boolean():
    with pytest.raises(ConfigError, match="REQUIRE_ADMIN_2FA must be a boolean"):
        DevelopmentConfig({"REQUIRE_ADMIN_2FA": "sometimes"})
