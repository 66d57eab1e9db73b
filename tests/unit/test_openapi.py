"""The OpenAPI document: valid OpenAPI 3, generated from the validating schemas, complete."""

import re

import pytest
from openapi_spec_validator import validate

from proxyapp.schemas import MAX_DISPLAY_LENGTH


@pytest.fixture
def document(client):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_document_is_valid_openapi_3(document):
    validate(document)
    assert document["openapi"].startswith("3.")


def test_it_is_public_and_lists_every_route(app, document):
    api_rules = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    documented = {re.sub(r"\{(\w+)\}", r"<\1>", path) for path in document["paths"]}
    assert api_rules - {"/v1/openapi.json"} == documented


def test_request_schema_comes_from_the_validator(app, document):
    request = document["components"]["schemas"]["PredictionRequest"]
    assert request["additionalProperties"] is False
    assert request["properties"]["history"]["maxItems"] == app.config["MAX_HISTORY"]
    item = request["properties"]["history"]["items"]
    item = document["components"]["schemas"][item["$ref"].rsplit("/", 1)[1]] if "$ref" in item else item
    assert item["additionalProperties"] is False
    assert item["properties"]["display"]["maxLength"] == MAX_DISPLAY_LENGTH
    assert request["properties"]["inference_temperature"]["exclusiveMinimum"] is True


def test_security_errors_headers_and_example(document):
    assert {"bearerAuth", "apiKeyHeader"} <= set(document["components"]["securitySchemes"])
    post = document["paths"]["/v1/predictions"]["post"]
    assert {"202", "200", "401", "415", "422", "429", "503"} <= set(post["responses"])
    parameters = {p["$ref"].rsplit("/", 1)[1] for p in post["parameters"]}
    assert parameters == {"Prefer", "IdempotencyKey", "CacheControl"}
    assert "X-RateLimit-Remaining" in post["responses"]["202"]["headers"]
    example = post["requestBody"]["content"]["application/json"]["example"]
    assert example["history"][2]["code"] == "E11.3551"
    assert document["components"]["responses"]["rate_limited"]["headers"]["Retry-After"]


def _walk(node, path=()):
    """Every (path, dict) in the document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


def _lint(document):
    """Redocly's recommended rules that matter to generated clients, as a list of warnings."""
    warnings = []
    info = document["info"]
    warnings += [] if info.get("license", {}).get("url") else ["info-license-url"]
    warnings += [] if info.get("contact") else ["info-contact"]
    declared_tags = {tag["name"] for tag in document.get("tags", [])}
    operation_ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            warnings += [f"operation-operationId {where}"] if not operation.get("operationId") else []
            warnings += [f"operation-summary {where}"] if not operation.get("summary") else []
            tags = operation.get("tags") or []
            warnings += [f"operation-tag-defined {where}"] if not tags or set(tags) - declared_tags else []
            warnings += [f"operation-4xx-response {where}"] if not any(s.startswith("4") for s in operation["responses"]) else []
            operation_ids.append(operation.get("operationId"))
    warnings += ["operation-operationId-unique"] if len(operation_ids) != len(set(operation_ids)) else []
    text = str(document)
    for kind, entries in document["components"].items():
        if kind == "securitySchemes":
            continue
        warnings += [f"no-unused-components {kind}/{name}" for name in entries
                     if f"'#/components/{kind}/{name}'" not in text]
    for path, node in _walk(document):
        if "anyOf" in node and any(isinstance(o, dict) and o.get("nullable") for o in node["anyOf"]):
            warnings.append(f"nullable-anyOf {'/'.join(map(str, path))}")
        if "$ref" in node and len(node) > 1:
            warnings.append(f"no-ref-siblings {'/'.join(map(str, path))}")
    return warnings


def test_lint_rules_give_zero_warnings(document):
    assert _lint(document) == []


def test_nullable_references_use_allof_and_nullable(document):
    error = document["components"]["schemas"]["Prediction"]["properties"]["error"]
    assert error["allOf"] == [{"$ref": "#/components/schemas/PredictionError"}]
    assert error["nullable"] is True


def test_every_operation_has_a_resource_tag(document):
    tags = {op["operationId"]: op["tags"] for item in document["paths"].values() for op in item.values()}
    assert tags["createPrediction"] == ["predictions"] and tags["getBatch"] == ["batches"]
    assert tags["createEmbedding"] == ["embeddings"] and tags["getMe"] == ["account"]


def test_the_guide_is_rendered_from_the_repository_markdown(client):
    response = client.get("/docs/guide")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h2>Lifecycle</h2>" in html and "<h2>Backoff</h2>" in html
    assert "Webhook(secret).verify" in html
    assert 'href="/docs/guide"' in client.get("/docs").get_data(as_text=True)


def test_key_expiry_is_documented(document):
    key = document["components"]["schemas"]["KeySummary"]["properties"]["expires_at"]
    assert key["nullable"] is True and "key_expired" in key["description"]
    assert "key_expired" in document["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
    assert "key_expired" in document["components"]["responses"]["unauthorized"]["description"]
    assert document["paths"]["/v1/me"]["get"]["responses"]["401"] == {"$ref": "#/components/responses/unauthorized"}
