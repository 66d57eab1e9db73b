"""Point 8 of issue 13: JSON nested deeper than any valid body is a 400 envelope, not a 500."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import bearer

# About 3 KB, far deeper than Python's recursion limit lets json.loads go.
DEEP_ARRAY = "[" * 1500 + "]" * 1500
DEEP_OBJECT = '{"history":' + '{"a":' * 1100 + "1" + "}" * 1100 + "}"


@pytest.mark.parametrize("path", ["/v1/predictions", "/v1/batches", "/v1/embeddings"])
@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_body_is_400_envelope_without_traceback(client, accounts, caplog, path, body):
    _, key = accounts.create()
    caplog.set_level(logging.DEBUG)
    response = client.post(path, data=body, headers={**bearer(key), "Content-Type": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["code"] == "bad_request"
    assert "RecursionError" not in caplog.text
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]


def test_deep_body_size_is_about_3_kb():
    assert 2500 <= len(DEEP_ARRAY) <= 3500
