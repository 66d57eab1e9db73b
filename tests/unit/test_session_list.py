"""The account page's session list: client and address, the current one marked, ending one other session."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from proxyapp.extensions import db
from proxyapp.models import UserSession
from tests.conftest import csrf_token
from tests.webforms import sign_in, submit

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.4 Mobile/15E148 Safari/604.1")


def browser(app, user_agent: str, address: str):
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    return client


def session_ids(app, user_id: int) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(UserSession.id).where(UserSession.user_id == user_id)
                                       .order_by(UserSession.id)))


@pytest.fixture
def two_browsers(app, accounts):
    user_id, _ = accounts.create("ada")
    laptop, phone = browser(app, FIREFOX_LINUX, "192.0.2.10"), browser(app, SAFARI_IPHONE, "2001:db8::7")
    sign_in(laptop, "ada")
    sign_in(phone, "ada")
    return user_id, laptop, phone


def test_lists_each_session_with_client_address_and_times_and_marks_this_one(app, two_browsers):
    user_id, laptop, _ = two_browsers
    laptop_id, phone_id = session_ids(app, user_id)
    page = laptop.get("/account").get_data(as_text=True)
    rows = {int(match[0]): match[1] for match in
            re.findall(r'<tr data-testid="session-(\d+)"(.*?)</tr>', page, flags=re.DOTALL)}
    assert set(rows) == {laptop_id, phone_id}
    assert "Firefox on Linux" in rows[laptop_id] and "192.0.2.10" in rows[laptop_id]
    assert "Safari on iOS" in rows[phone_id] and "2001:db8::7" in rows[phone_id]
    assert 'data-testid="this-session"' in rows[laptop_id] and 'aria-current="true"' in rows[laptop_id]
    assert 'data-testid="this-session"' not in rows[phone_id]
    # Every session but this one has an End button.
    assert f'data-testid="end-session-{phone_id}"' in rows[phone_id]
    assert "end-session" not in rows[laptop_id]


def test_ending_another_session_signs_that_browser_out_server_side(app, two_browsers):
    user_id, laptop, phone = two_browsers
    _, phone_id = session_ids(app, user_id)
    response = submit(laptop, "/account", {}, f"/account/sessions/{phone_id}/end")
    assert response.status_code == 302 and response.headers["Location"].startswith("/account")
    assert "that browser is signed out" in laptop.get("/account").get_data(as_text=True)
    assert phone.get("/account").headers["Location"].startswith("/login")
    assert laptop.get("/account").status_code == 200
    assert len(session_ids(app, user_id)) == 1


def test_another_accounts_session_is_404_and_stays(app, accounts, two_browsers):
    user_id, laptop, _ = two_browsers
    accounts.create("eve")
    eve = browser(app, FIREFOX_LINUX, "198.51.100.1")
    sign_in(eve, "eve")
    laptop_id, phone_id = session_ids(app, user_id)
    for target in (laptop_id, phone_id, 999_999):
        assert submit(eve, "/account", {}, f"/account/sessions/{target}/end").status_code == 404
    assert session_ids(app, user_id) == [laptop_id, phone_id]
    assert laptop.get("/account").status_code == 200


def test_ending_a_session_needs_the_csrf_token_and_a_post(app, two_browsers):
    user_id, laptop, _ = two_browsers
    _, phone_id = session_ids(app, user_id)
    assert laptop.post(f"/account/sessions/{phone_id}/end").status_code == 400
    assert laptop.get(f"/account/sessions/{phone_id}/end").status_code == 405
    assert len(session_ids(app, user_id)) == 2


def test_anonymous_visitors_are_sent_to_sign_in(app, client, two_browsers):
    user_id, _, _ = two_browsers
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(f"/account/sessions/{session_ids(app, user_id)[1]}/end", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert len(session_ids(app, user_id)) == 2


def test_sign_out_everywhere_stays(app, two_browsers):
    user_id, laptop, phone = two_browsers
    assert 'data-testid="sign-out-everywhere"' in laptop.get("/account").get_data(as_text=True)
    submit(laptop, "/account", {}, "/account/sessions/end")
    assert session_ids(app, user_id) == []
    assert phone.get("/account").status_code == 302
