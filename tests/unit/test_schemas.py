"""The request-validation contract of api.md ("Validation"), as a table of cases."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from marshmallow import ValidationError, validate

from proxyapp.code_systems import TIMEGAP_TOKENS, CodeSystem, code_problems
from proxyapp.schemas import (
    MAX_CODE_LENGTH,
    MAX_DISPLAY_LENGTH,
    MAX_SYSTEM_LENGTH,
    EmbeddingRequestSchema,
    HistoryItemSchema,
    PredictionRequestSchema,
    plainly_valid_items,
)
from tests.conftest import CANONICAL_BODY

CANONICAL = CANONICAL_BODY  # upstream.md's canonical example
AGE_64 = {"code": "64", "system": "age", "display": "64"}
DEFAULTS = {
    "num_predictions": 1,
    "generation_length": 10,
    "inference_threshold": 0.95,
    "inference_temperature": 0.95,
}
NON_EXISTENT_ICD = "E11.9999"  # well-formed, but not in the CMS code set


def item(system: str, code: Any, display: Any = None) -> dict[str, Any]:
    """Build a history item; display defaults to the code."""
    return {"code": code, "system": system, "display": code if display is None else display}


def errors(data: Any, schema_class: type = PredictionRequestSchema, **options: Any) -> Any:
    """Load data expecting failure and return the error messages."""
    with pytest.raises(ValidationError) as caught:
        schema_class(**options).load(data)
    return caught.value.messages


def paths(messages: Any, prefix: tuple = ()) -> set[tuple]:
    """Flatten nested error messages into the set of paths that carry a message list."""
    if isinstance(messages, dict):
        return {p for key, sub in messages.items() for p in paths(sub, (*prefix, key))}
    assert isinstance(messages, list) and messages
    assert all(isinstance(message, str) and message for message in messages)
    return {prefix}


# ------------------------------------------------------------------- history items

ACCEPTED_ITEMS = [
    pytest.param(item("age", "0"), id="age-0"),
    pytest.param(item("age", "64"), id="age-64"),
    pytest.param(item("age", "120"), id="age-120"),
    pytest.param(item("gender", "male"), id="gender-male"),
    pytest.param(item("gender", "female"), id="gender-female"),
    *[pytest.param(item("timegap", token), id=f"timegap-{token}") for token in TIMEGAP_TOKENS],
    pytest.param(item("ICD10CM", "E11", "Type 2 diabetes mellitus"), id="icd10cm-category"),
    pytest.param(item("ICD10CM", "E11.3551", "T2DM retinopathy"), id="icd10cm-dotted"),
    pytest.param(item("ICD10CM", "E113551", "T2DM retinopathy"), id="icd10cm-undotted"),
    pytest.param(item("ICD10CM", "E11.9", "T2DM"), id="icd10cm-4-chars"),
    pytest.param(item("ICD10CM", "T36.0X1A", "Poisoning"), id="icd10cm-placeholder-x"),
    pytest.param(item("ICD10CM", "U07.1", "COVID-19"), id="icd10cm-u-chapter"),
    pytest.param(item("ICD10PCS", "0DTJ4ZZ", "Resection of appendix"), id="icd10pcs"),
    pytest.param(item("ICD10PCS", "XW033E5", "Introduction"), id="icd10pcs-letters"),
    pytest.param(item("CPT4", "99213", "Office visit"), id="cpt4-numeric"),
    pytest.param(item("CPT4", "3021F", "LV function assessed"), id="cpt4-category-ii"),
    pytest.param(item("CPT4", "0042T", "Perfusion CT"), id="cpt4-category-iii"),
    pytest.param(item("CPT4", "0001U", "Red cell antigen typing"), id="cpt4-pla"),
    pytest.param(item("HCPCS", "A4452", "Tape, waterproof"), id="hcpcs-a"),
    pytest.param(item("HCPCS", "V2020", "Frames"), id="hcpcs-v"),
    pytest.param(item("NDC", "68788788308", "Some drug"), id="ndc-11-digits"),
    pytest.param(item("NDC", "0002-3227-01", "Some drug"), id="ndc-4-4-2"),
    pytest.param(item("NDC", "12345-678-90", "Some drug"), id="ndc-5-3-2"),
    pytest.param(item("NDC", "12345-6789-0", "Some drug"), id="ndc-5-4-1"),
    pytest.param(item("RXNORM-FREETEXT", "levothyroxine"), id="rxnorm-word"),
    pytest.param(item("RXNORM-FREETEXT", "insulin glargine", "Lantus"), id="rxnorm-phrase"),
    pytest.param(item("RXNORM-FREETEXT", "x" * MAX_CODE_LENGTH), id="code-at-cap"),
    pytest.param(item("ICD10CM", "E11", "x" * MAX_DISPLAY_LENGTH), id="display-at-cap"),
    pytest.param(item("ICD10CM", "E11", " padded "), id="display-padded"),
]


@pytest.mark.parametrize("history_item", ACCEPTED_ITEMS)
def test_item_accepted_unchanged(history_item: dict[str, Any]) -> None:
    loaded = PredictionRequestSchema().load({"history": [history_item]})
    assert loaded["history"] == [history_item]


REJECTED_ITEMS = [
    # structure, shared by every system
    pytest.param({"system": "age", "display": "64"}, "code", id="code-missing"),
    pytest.param({"code": "64", "display": "64"}, "system", id="system-missing"),
    pytest.param({"code": "64", "system": "age"}, "display", id="display-missing"),
    pytest.param(item("age", 64, "64"), "code", id="code-not-string"),
    pytest.param(item("ICD10CM", "E11", None) | {"display": None}, "display", id="display-null"),
    pytest.param(item("ICD10CM", "E11", ""), "display", id="display-empty"),
    pytest.param(item("ICD10CM", "E11", "   "), "display", id="display-spaces"),
    pytest.param(item("RXNORM-FREETEXT", "  \t", "x"), "code", id="code-spaces"),
    pytest.param(item("RXNORM-FREETEXT", "", "x"), "code", id="code-empty"),
    pytest.param(item("   ", "x"), "system", id="system-spaces"),
    pytest.param(item("RXNORM-FREETEXT", "x" * (MAX_CODE_LENGTH + 1)), "code", id="code-too-long"),
    pytest.param(
        item("ICD10CM", "E11", "x" * (MAX_DISPLAY_LENGTH + 1)), "display", id="display-too-long"
    ),
    pytest.param(item("x" * (MAX_SYSTEM_LENGTH + 1), "x"), "system", id="system-too-long"),
    pytest.param(item("LOINC", "1234-5"), "system", id="system-unknown"),
    pytest.param(item("icd10cm", "E11", "T2DM"), "system", id="system-wrong-case"),
    pytest.param(AGE_64 | {"extra": "x"}, "extra", id="item-unknown-field"),
    # age
    pytest.param(item("age", "-1"), "code", id="age-negative"),
    pytest.param(item("age", "+5"), "code", id="age-signed"),
    pytest.param(item("age", "064"), "code", id="age-leading-zero"),
    pytest.param(item("age", "121"), "code", id="age-too-old"),
    pytest.param(item("age", "6.5"), "code", id="age-fraction"),
    pytest.param(item("age", "sixty"), "code", id="age-words"),
    pytest.param(item("age", "\u0666\u0664"), "code", id="age-non-ascii-digits"),
    pytest.param(item("age", "64", "65"), "display", id="age-display-differs"),
    # gender
    pytest.param(item("gender", "Male"), "code", id="gender-capitalised"),
    pytest.param(item("gender", "m"), "code", id="gender-abbreviated"),
    pytest.param(item("gender", "male", "female"), "display", id="gender-display-differs"),
    # timegap
    pytest.param(item("timegap", "01-02-month"), "code", id="timegap-unknown-token"),
    pytest.param(item("timegap", "00-01-months"), "code", id="timegap-plural"),
    pytest.param(item("timegap", "00-01-month", "1 month"), "display", id="timegap-display"),
    # ICD-10-CM
    pytest.param(item("ICD10CM", "E1", "x"), "code", id="icd10cm-too-short"),
    pytest.param(item("ICD10CM", "11E", "x"), "code", id="icd10cm-digit-first"),
    pytest.param(item("ICD10CM", "E11.", "x"), "code", id="icd10cm-trailing-dot"),
    pytest.param(item("ICD10CM", "E11..3", "x"), "code", id="icd10cm-double-dot"),
    pytest.param(item("ICD10CM", "E1.13", "x"), "code", id="icd10cm-dot-misplaced"),
    pytest.param(item("ICD10CM", "e11", "x"), "code", id="icd10cm-lowercase"),
    pytest.param(item("ICD10CM", "E11.35511", "x"), "code", id="icd10cm-too-long"),
    pytest.param(item("ICD10CM", "E11 ", "x"), "code", id="icd10cm-trailing-space"),
    pytest.param(item("ICD10CM", "E08-E13", "x"), "code", id="icd10cm-block-range"),
    pytest.param(item("ICD10CM", NON_EXISTENT_ICD, "x"), "code", id="icd10cm-not-in-code-set"),
    # ICD-10-PCS
    pytest.param(item("ICD10PCS", "0DTJ4Z", "x"), "code", id="icd10pcs-6-chars"),
    pytest.param(item("ICD10PCS", "0DTJ4ZZZ", "x"), "code", id="icd10pcs-8-chars"),
    pytest.param(item("ICD10PCS", "0DTI4ZZ", "x"), "code", id="icd10pcs-letter-i"),
    pytest.param(item("ICD10PCS", "0DTO4ZZ", "x"), "code", id="icd10pcs-letter-o"),
    pytest.param(item("ICD10PCS", "0dtj4zz", "x"), "code", id="icd10pcs-lowercase"),
    # CPT-4
    pytest.param(item("CPT4", "9921", "x"), "code", id="cpt4-4-chars"),
    pytest.param(item("CPT4", "992131", "x"), "code", id="cpt4-6-chars"),
    pytest.param(item("CPT4", "3021A", "x"), "code", id="cpt4-bad-suffix"),
    pytest.param(item("CPT4", "3021f", "x"), "code", id="cpt4-lowercase-suffix"),
    pytest.param(item("CPT4", "F3021", "x"), "code", id="cpt4-letter-first"),
    # HCPCS Level II
    pytest.param(item("HCPCS", "W1234", "x"), "code", id="hcpcs-letter-past-v"),
    pytest.param(item("HCPCS", "A445", "x"), "code", id="hcpcs-3-digits"),
    pytest.param(item("HCPCS", "A44521", "x"), "code", id="hcpcs-5-digits"),
    pytest.param(item("HCPCS", "a4452", "x"), "code", id="hcpcs-lowercase"),
    pytest.param(item("HCPCS", "99213", "x"), "code", id="hcpcs-no-letter"),
    # NDC
    pytest.param(item("NDC", "6878878830", "x"), "code", id="ndc-10-digits-plain"),
    pytest.param(item("NDC", "687887883081", "x"), "code", id="ndc-12-digits"),
    pytest.param(item("NDC", "68788-7883-08", "x"), "code", id="ndc-5-4-2"),
    pytest.param(item("NDC", "6878-878-830", "x"), "code", id="ndc-4-3-3"),
    pytest.param(item("NDC", "0002 3227 01", "x"), "code", id="ndc-spaces"),
    pytest.param(item("NDC", "0002-3227-0I", "x"), "code", id="ndc-letter"),
]


@pytest.mark.parametrize(("history_item", "field"), REJECTED_ITEMS)
def test_item_rejected_at_its_field(history_item: dict[str, Any], field: str) -> None:
    assert paths(errors({"history": [AGE_64, history_item]})) == {("history", 1, field)}


def _variants(base: dict[str, Any]) -> list[Any]:
    """Near misses of a valid item: other types, blank and over-long text, missing and extra keys."""
    out: list[Any] = [base, [base], None, "E11", 7]
    for name, cap in (("code", MAX_CODE_LENGTH), ("system", MAX_SYSTEM_LENGTH), ("display", MAX_DISPLAY_LENGTH)):
        text = base[name] if isinstance(base.get(name), str) else "x"
        for value in (None, 5, 5.0, True, [], {}, b"E11", "", " ", "\t\n", "\u00a0", "\u2003x", "x" * cap,
                      "x" * (cap + 1), text.lower(), text + " ", " " + text):
            out.append({**base, name: value})
        out.append({key: val for key, val in base.items() if key != name})
    out.append({**base, "extra": "x"})
    return out


@pytest.mark.parametrize("strict", [True, False])
def test_quick_pass_takes_only_what_the_item_schema_takes(strict: bool) -> None:
    """The quick pass of the history field never accepts an item the schema refuses, and loads the same."""
    schema = HistoryItemSchema(strict_codes=strict)
    candidates = [variant for param in ACCEPTED_ITEMS + REJECTED_ITEMS for variant in _variants(param.values[0])]
    candidates += [item("ICD10CM", NON_EXISTENT_ICD, "x"), item("age", "121"), item("gender", "Male")]
    quick_accepted = 0
    for candidate in candidates:
        quick = plainly_valid_items([candidate], strict_codes=strict)
        try:
            loaded = [schema.load(candidate)]
        except ValidationError:
            assert quick is None, candidate
            continue
        assert quick is None or quick == loaded, candidate
        quick_accepted += quick is not None
    assert quick_accepted >= len(ACCEPTED_ITEMS)  # the plain valid items do take the quick pass


@pytest.mark.parametrize("history_item", ACCEPTED_ITEMS)
def test_valid_items_take_the_quick_pass(history_item: dict[str, Any]) -> None:
    assert plainly_valid_items([history_item, AGE_64], strict_codes=True) == [history_item, AGE_64]


def test_one_invalid_item_sends_the_list_through_the_schema_for_its_message() -> None:
    history = [AGE_64] * 300 + [item("age", "121")]
    assert plainly_valid_items(history, strict_codes=True) is None
    assert paths(errors({"history": history})) == {("history", 300, "code")}


# --------------------------------------------------------------- top-level fields

ACCEPTED_BODIES = [
    pytest.param({"num_predictions": 1}, id="num-predictions-min"),
    pytest.param({"num_predictions": 10}, id="num-predictions-max"),
    pytest.param({"generation_length": 1}, id="generation-length-min"),
    pytest.param({"generation_length": 128}, id="generation-length-max"),
    pytest.param({"inference_threshold": 0}, id="threshold-zero"),
    pytest.param({"inference_threshold": 1.0}, id="threshold-one"),
    pytest.param({"inference_temperature": 2}, id="temperature-two"),
    pytest.param({"inference_temperature": 0.01}, id="temperature-small"),
]


@pytest.mark.parametrize("overrides", ACCEPTED_BODIES)
def test_body_accepted(overrides: dict[str, Any]) -> None:
    loaded = PredictionRequestSchema().load({"history": [AGE_64], **overrides})
    assert loaded == {"history": [AGE_64], **DEFAULTS, **overrides}


REJECTED_BODIES = [
    pytest.param({"status": "succeeded"}, "status", id="unknown-status"),
    pytest.param({"owner": "someone-else"}, "owner", id="unknown-owner"),
    pytest.param({"num_predictions": 0}, "num_predictions", id="num-predictions-zero"),
    pytest.param({"num_predictions": 11}, "num_predictions", id="num-predictions-11"),
    pytest.param({"num_predictions": True}, "num_predictions", id="num-predictions-bool"),
    pytest.param({"num_predictions": 1.5}, "num_predictions", id="num-predictions-float"),
    pytest.param({"num_predictions": "1"}, "num_predictions", id="num-predictions-string"),
    pytest.param({"num_predictions": None}, "num_predictions", id="num-predictions-null"),
    pytest.param({"generation_length": 0}, "generation_length", id="generation-length-zero"),
    pytest.param({"generation_length": 129}, "generation_length", id="generation-length-129"),
    pytest.param({"generation_length": False}, "generation_length", id="generation-length-bool"),
    pytest.param({"inference_threshold": -0.01}, "inference_threshold", id="threshold-negative"),
    pytest.param({"inference_threshold": 1.01}, "inference_threshold", id="threshold-over-one"),
    pytest.param({"inference_threshold": math.nan}, "inference_threshold", id="threshold-nan"),
    pytest.param({"inference_threshold": math.inf}, "inference_threshold", id="threshold-inf"),
    pytest.param({"inference_threshold": -math.inf}, "inference_threshold", id="threshold-ninf"),
    pytest.param({"inference_threshold": True}, "inference_threshold", id="threshold-bool"),
    pytest.param({"inference_threshold": "0.5"}, "inference_threshold", id="threshold-string"),
    pytest.param({"inference_temperature": 0}, "inference_temperature", id="temperature-zero"),
    pytest.param({"inference_temperature": -1}, "inference_temperature", id="temperature-neg"),
    pytest.param({"inference_temperature": 2.01}, "inference_temperature", id="temperature-2.01"),
    pytest.param({"inference_temperature": math.nan}, "inference_temperature", id="temp-nan"),
    pytest.param({"history": []}, "history", id="history-empty"),
    pytest.param({"history": None}, "history", id="history-null"),
    pytest.param({"history": AGE_64}, "history", id="history-not-a-list"),
]


@pytest.mark.parametrize(("overrides", "field"), REJECTED_BODIES)
def test_body_rejected_at_its_field(overrides: dict[str, Any], field: str) -> None:
    assert paths(errors({"history": [AGE_64], **overrides})) == {(field,)}


def test_canonical_example_accepted_as_is() -> None:
    assert PredictionRequestSchema().load(CANONICAL) == CANONICAL


def test_defaults_filled_for_upstream() -> None:
    loaded = PredictionRequestSchema().load({"history": CANONICAL["history"]})
    assert loaded == CANONICAL


def test_history_missing() -> None:
    assert errors({"num_predictions": 1}) == {"history": ["Missing data for required field."]}


def test_body_not_an_object() -> None:
    assert paths(errors([AGE_64])) == {("_schema",)}


def test_unknown_field_message() -> None:
    assert errors({"history": [AGE_64], "status": "succeeded"}) == {"status": ["Unknown field."]}


# ---------------------------------------------------------------- history length


@pytest.mark.parametrize("schema_class", [PredictionRequestSchema, EmbeddingRequestSchema])
def test_history_at_max_accepted(schema_class: type) -> None:
    assert schema_class(max_history=3).load({"history": [AGE_64] * 3})["history"] == [AGE_64] * 3


@pytest.mark.parametrize("schema_class", [PredictionRequestSchema, EmbeddingRequestSchema])
def test_history_over_max_rejected(schema_class: type) -> None:
    messages = errors({"history": [AGE_64] * 4}, schema_class, max_history=3)
    assert messages == {"history": ["Length must be between 1 and 3."]}


def test_history_over_max_rejected_before_items_are_checked() -> None:
    messages = errors({"history": [{"bogus": 1}] * 4}, max_history=3)
    assert paths(messages) == {("history",)}


def test_default_max_history_is_512() -> None:
    assert PredictionRequestSchema().load({"history": [AGE_64] * 512})
    assert paths(errors({"history": [AGE_64] * 513})) == {("history",)}


# ------------------------------------------------------------------ strict codes


def test_non_existent_icd_accepted_when_not_strict() -> None:
    body = {"history": [item("ICD10CM", NON_EXISTENT_ICD, "x")]}
    assert PredictionRequestSchema(strict_codes=False).load(body)["history"] == body["history"]


def test_malformed_icd_rejected_even_when_not_strict() -> None:
    messages = errors({"history": [item("ICD10CM", "E1", "x")]}, strict_codes=False)
    assert paths(messages) == {("history", 0, "code")}


def test_non_existent_icd_message() -> None:
    messages = errors({"history": [item("ICD10CM", NON_EXISTENT_ICD, "x")]})
    expected = f"'{NON_EXISTENT_ICD}' is not an ICD-10-CM code in the official code set."
    assert messages == {"history": {0: {"code": [expected]}}}


# --------------------------------------------------------------- error messages


def test_messages_never_echo_the_display() -> None:
    secret = "Patient Jane Doe, HIV positive"
    messages = errors({"history": [item("ICD10CM", "E1", secret), item("age", "64", secret)]})
    assert paths(messages) == {("history", 0, "code"), ("history", 1, "display")}
    assert secret not in json.dumps(messages)


def test_messages_serialise_with_string_indexes() -> None:
    messages = errors({"history": [AGE_64, item("gender", "m")]})
    assert list(json.loads(json.dumps(messages))["history"]) == ["1"]


def test_embedding_takes_history_only() -> None:
    messages = errors({"history": [AGE_64], "num_predictions": 1}, EmbeddingRequestSchema)
    assert messages == {"num_predictions": ["Unknown field."]}


# ------------------------------------------------------------ the rules directly


def test_code_problems_empty_for_valid_item() -> None:
    assert code_problems("ICD10CM", "E113551", "x", strict_codes=True) == {}


def test_code_problems_unknown_system() -> None:
    assert set(code_problems("LOINC", "1234-5", "x", strict_codes=True)) == {"system"}


def test_code_problems_reports_code_and_display_together() -> None:
    problems = code_problems(CodeSystem.AGE.value, "200", "64", strict_codes=True)
    assert set(problems) == {"code", "display"}


def test_limits_are_readable_for_openapi() -> None:
    schema = PredictionRequestSchema(max_history=7)
    (length,) = schema.fields["history"].validators
    assert isinstance(length, validate.Length) and (length.min, length.max) == (1, 7)
    (temperature,) = schema.fields["inference_temperature"].validators
    assert isinstance(temperature, validate.Range) and not temperature.min_inclusive


@pytest.mark.parametrize("schema_class", [PredictionRequestSchema, EmbeddingRequestSchema])
def test_a_loaded_body_dumps_as_itself(schema_class: type) -> None:
    """PredictionSchema.dump shows the stored input as is: the nested schema's dump would equal it."""
    body = {"history": CANONICAL["history"]} if schema_class is EmbeddingRequestSchema else CANONICAL
    loaded = schema_class().load(body)
    assert PredictionRequestSchema().dump(loaded) == loaded
