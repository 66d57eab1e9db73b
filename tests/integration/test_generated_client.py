"""A client generated from /v1/openapi.json with openapi-python-client works against a live stack."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import requests
from standardwebhooks import Webhook

from tests.integration.conftest import register_over_http, webhook_secret
from tests.integration.fault_stack import unique_body
from tests.stack import Stack

pytestmark = pytest.mark.integration
PACKAGE = "proxyapp_api_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    """One SQLite stack: the client only sees HTTP, so one database kind is enough here."""
    with Stack(Path(tmp_path_factory.mktemp("stack")), redis_url, workers=1) as running:
        yield running


@pytest.fixture(scope="module")
def generated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, str]]:
    """The generated package (imported) and the generator's output."""
    workdir = Path(tmp_path_factory.mktemp("client"))
    document = workdir / "openapi.json"
    document.write_bytes(requests.get(f"{stack.base_url}/v1/openapi.json", timeout=10).content)
    config = workdir / "config.yml"
    config.write_text("post_hooks: []\n")  # no formatter hooks: the test checks the generator alone
    result = subprocess.run([str(GENERATOR), "generate", "--path", str(document), "--meta", "none",
                             "--output-path", str(workdir / PACKAGE), "--config", str(config)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module(PACKAGE), result.stdout + result.stderr
    finally:
        sys.path.remove(str(workdir))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_generation_gives_no_warnings_and_one_module_per_tag(generated):
    package, output = generated
    assert "warning" not in output.lower(), output
    root = Path(package.__file__).parent
    assert {path.name for path in (root / "api").iterdir() if path.is_dir()} >= {
        "predictions", "embeddings", "batches", "account"}
    assert not list((root / "models").glob("*type_0*")), "nullable references generated junk models"


def test_submit_then_fetch_with_the_generated_client(stack, generated):
    package, _ = generated
    from proxyapp_api_client.models import PredictionRequest, PredictionStatus
    browser, key = register_over_http(stack.base_url, f"client{int(time.time() * 1000) % 10**8}")
    browser.close()
    with package.AuthenticatedClient(base_url=stack.base_url, token=key) as client:
        prediction = _submit_and_wait(client, PredictionRequest.from_dict(unique_body()))
    assert prediction.status == PredictionStatus.SUCCEEDED, prediction
    assert prediction.error is None and prediction.output is not None


def test_submit_with_a_webhook_then_verify_and_fetch_with_the_generated_client(stack, generated, receiver):
    package, _ = generated
    from proxyapp_api_client.api.predictions import create_prediction, get_prediction
    from proxyapp_api_client.models import PredictionRequest, PredictionStatus
    browser, key = register_over_http(stack.base_url, f"hooked{int(time.time() * 1000) % 10**8}")
    secret = webhook_secret(browser, stack.base_url)
    browser.close()
    body = PredictionRequest.from_dict({**unique_body(), "webhook": f"{receiver.url}/generated",
                                        "webhook_events_filter": ["completed"]})
    assert body.webhook == f"{receiver.url}/generated"
    with package.AuthenticatedClient(base_url=stack.base_url, token=key) as client:
        submitted = create_prediction.sync_detailed(client=client, body=body)
        assert submitted.status_code == 202, submitted.content
        [hook] = receiver.wait_for("/generated")
        headers, raw = hook.headers, hook.body
        event = Webhook(secret).verify(raw, headers)
        assert event["type"] == "prediction.completed" and event["data"]["id"] == submitted.parsed.id
        prediction = get_prediction.sync(client=client, prediction_id=event["data"]["id"])
    assert prediction.status == PredictionStatus.SUCCEEDED and prediction.output is not None


def _submit_and_wait(client, body):
    """Submit with the generated client and poll it until it is terminal (or 30 s pass)."""
    from proxyapp_api_client.api.predictions import create_prediction, get_prediction
    from proxyapp_api_client.models import PredictionStatus
    submitted = create_prediction.sync_detailed(client=client, body=body)
    assert submitted.status_code in (200, 202), submitted.content
    prediction = submitted.parsed
    deadline = time.monotonic() + 30
    while prediction.status not in (PredictionStatus.SUCCEEDED, PredictionStatus.FAILED) and time.monotonic() < deadline:
        time.sleep(0.2)
        prediction = get_prediction.sync(client=client, prediction_id=prediction.id)
    return prediction


def test_errors_arrive_typed(stack, generated):
    package, _ = generated
    from proxyapp_api_client.api.predictions import get_prediction
    from proxyapp_api_client.models import Error
    with package.AuthenticatedClient(base_url=stack.base_url, token="pxk_not-a-real-key") as client:
        answer = get_prediction.sync_detailed(client=client, prediction_id="missing")
    assert answer.status_code == 401
    assert isinstance(answer.parsed, Error) and answer.parsed.error.code.value == "unauthorized"
