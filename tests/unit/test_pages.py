"""Every page: one layout, our own assets only, no inline script, every field labelled."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from proxyapp.extensions import db
from proxyapp.models import Prediction
from proxyapp.services.accounts.lifecycle import create_admin
from tests.conftest import CANONICAL_BODY, PASSWORD
from tests.webforms import account_action, sign_in, submit


class PageAudit(HTMLParser):
    """Collects what the checks below need from one HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.script_sources: list[str] = []
        self.stylesheets: list[str] = []
        self.handlers: list[str] = []
        self.fields: list[str] = []
        self.labelled: set[str] = set()
        self.has_skip_link = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            if values.get("src"):
                self.script_sources.append(values["src"])
            else:
                self.inline_scripts += 1
        if tag == "link" and values.get("rel") == "stylesheet":
            self.stylesheets.append(values["href"])
        if tag == "input" and values.get("type") not in ("hidden", "submit"):
            self.fields.append(values.get("id") or "")
        if tag == "label":
            self.labelled.add(values.get("for") or "")
        if tag == "a" and values.get("href") == "#main":
            self.has_skip_link = True

    def handle_data(self, data: str) -> None:
        if self.lasttag == "script" and data.strip():
            self.inline_scripts += 1


@pytest.fixture
def pages(app, client, accounts):
    """The HTML of every page, signed in as an administrator where needed."""
    user_id, _ = accounts.create("ada")
    with app.app_context():
        create_admin("root", PASSWORD)
        prediction = Prediction(user_id=user_id, input=CANONICAL_BODY)
        db.session.add(prediction)
        db.session.commit()
        prediction_id = prediction.id
    html = {"landing": client.get("/"), "register": client.get("/register"), "login": client.get("/login"),
            "privacy": client.get("/privacy"), "login-error": sign_in(client, "ada", "wrong password"), "missing": client.get("/nowhere")}
    sign_in(client, "ada")
    html |= {"account": client.get("/account"), "key-created": account_action(client, "/account/keys", {"name": "x"}),
             "key-error": account_action(client, "/account/keys", {"name": ""}),
             "password": client.get("/account/password"), "delete": client.get("/account/delete"),
             "prediction": client.get(f"/account/predictions/{prediction_id}"), "forbidden": client.get("/admin"),
             "usage": client.get("/account/usage"), "predictions": client.get("/account/predictions")}
    submit(client, "/account", {}, "/logout")
    sign_in(client, "root")
    html |= {"admin": client.get("/admin"), "admin-user": client.get(f"/admin/users/{user_id}")}
    attempts = [sign_in(client, "ghost", "wrong password", environ_base={"REMOTE_ADDR": "10.1.1.1"}) for _ in range(6)]
    html["too-many"] = attempts[-1]
    expected = {"login-error": 422, "key-error": 422, "missing": 404, "forbidden": 403, "too-many": 429}
    assert {name: response.status_code for name, response in html.items()} == {
        name: expected.get(name, 200) for name in html}
    return {name: response.get_data(as_text=True) for name, response in html.items()}


def test_every_page_uses_the_layout_our_own_assets_no_inline_script_and_labels(pages):
    assert len(pages) == 18
    for name, html in pages.items():
        audit = PageAudit(html)
        assert audit.has_skip_link and 'class="site-header"' in html, name
        assert audit.stylesheets == ["/static/css/app.css"], name
        assert audit.script_sources == ["/static/js/copy.js"], name
        assert "fonts.googleapis" not in html and "cdn" not in html.lower(), name
        assert audit.inline_scripts == 0 and audit.handlers == [], name
        assert [field for field in audit.fields if field not in audit.labelled] == [], name


def test_focus_starts_on_the_first_field_and_moves_to_the_first_error(client):
    assert re.search(r'<input[^>]*autofocus[^>]*id="username"', client.get("/register").get_data(as_text=True))
    data = {"username": "fay", "password": "short", "confirm": "short"}
    html = submit(client, "/register", data).get_data(as_text=True)
    focused = re.findall(r'<input[^>]*\bautofocus\b[^>]*>', html)
    assert len(focused) == 1 and 'id="password"' in focused[0] and 'aria-invalid="true"' in focused[0]
