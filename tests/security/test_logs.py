"""Nothing sensitive in logs: a real stack's every log line is searched for the secrets it handled."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import register_over_http, wait_terminal
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url):
    with Stack(Path(tmp_path_factory.mktemp("logs")), redis_url, workers=1) as running:
        yield running


def test_logs__no_key_password_or_patient_data_in_any_line(stack):
    marker = f"MARKER{uuid.uuid4().hex}"
    password = f"pass-{uuid.uuid4().hex}"
    _, key = register_over_http(stack.base_url, f"log{uuid.uuid4().hex[:8]}", password)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    body = {"history": [{"code": "64", "system": "age", "display": "64"},
                        {"code": "E11", "system": "ICD10CM", "display": f"Type 2 diabetes {marker}"}]}
    created = api.post(f"{stack.base_url}/v1/predictions", json=body, timeout=10)
    assert created.status_code == 202
    assert wait_terminal(api, created.headers["Location"])["status"] == "succeeded"
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    login_page = requests.get(f"{stack.base_url}/login", timeout=10)
    requests.post(f"{stack.base_url}/login", data={"username": "nobody", "password": wrong_password},
                  cookies=login_page.cookies, timeout=10)
    api.get(f"{stack.base_url}/v1/predictions/{created.json()['id']}", timeout=10)
    stack.stop()

    logs = stack.logs()
    request_lines = [json.loads(line) for line in logs.splitlines() if '"logger": "proxyapp.request"' in line]
    assert len(request_lines) >= 4, "the web process wrote no request log lines"
    assert any(line.get("key_prefix") == key[:12] for line in request_lines)
    for secret in (marker, key, key[12:], password, wrong_password):
        assert secret not in logs
