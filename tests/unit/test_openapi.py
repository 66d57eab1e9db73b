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
