"""Marshmallow schemas: the JSON API's request validation and the OpenAPI document's source."""

from __future__ import annotations

import numbers
import typing
from datetime import UTC, datetime
from typing import Any

from flask import url_for

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from proxyapp.codes import SYSTEM_VALUES, UNKNOWN_SYSTEM_MESSAGE, code_problems

MAX_CODE_LENGTH = 64
MAX_SYSTEM_LENGTH = 32
MAX_DISPLAY_LENGTH = 512
DEFAULT_MAX_HISTORY = 512

# A regex rather than a callable so the OpenAPI document can show it as a pattern.
_NOT_BLANK = validate.Regexp(r"\s*\S", error="Must not be blank.")


# --------------------------------------------------------------------------- fields


class StrictFloat(fields.Float):
    """A float field that takes JSON numbers only, not numeric strings."""

    def _validated(self, value: Any) -> float:
        if not isinstance(value, numbers.Real):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def _text(max_length: int, *extra: validate.Validator) -> fields.String:
    """Return a required, non-blank string field capped at max_length characters."""
    return fields.String(
        required=True,
        validate=[validate.Length(max=max_length), _NOT_BLANK, *extra],
    )


# ------------------------------------------------------------------------- requests


class HistoryItemSchema(Schema):
    """One event of a patient history: a code, its system and a human-readable label."""

    class Meta:
        unknown = RAISE

    code = _text(MAX_CODE_LENGTH)
    system = _text(MAX_SYSTEM_LENGTH, validate.OneOf(SYSTEM_VALUES, error=UNKNOWN_SYSTEM_MESSAGE))
    display = _text(MAX_DISPLAY_LENGTH)

    def __init__(self, *, strict_codes: bool = True, **kwargs: Any) -> None:
        """Build the schema; strict_codes also requires ICD-10-CM codes to exist."""
        super().__init__(**kwargs)
        self.strict_codes = strict_codes

    @validates_schema
    def _check_code(self, item: dict[str, str], **kwargs: Any) -> None:
        """Apply the code-system rules once every field is individually valid."""
        problems = code_problems(
            item["system"], item["code"], item["display"], strict_codes=self.strict_codes
        )
        if problems:
            raise ValidationError(problems)


class _HistoryBodySchema(Schema):
    """A request body carrying a bounded patient history."""

    class Meta:
        unknown = RAISE

    history = fields.List(fields.Nested(HistoryItemSchema), required=True)

    def __init__(
        self,
        *,
        max_history: int = DEFAULT_MAX_HISTORY,
        strict_codes: bool = True,
        **kwargs: Any,
    ) -> None:
        """Build the schema for histories of 1..max_history items."""
        # Set before super().__init__(), which binds the fields and so calls on_bind_field.
        self.max_history = max_history
        self.strict_codes = strict_codes
        self._history_length = validate.Length(min=1, max=max_history)
        super().__init__(**kwargs)

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        """Give the history field this instance's item limit and code strictness."""
        if field_name == "history":
            history = typing.cast(fields.List, field_obj)
            history.validators = [self._history_length]
            typing.cast(fields.Nested, history.inner).nested = HistoryItemSchema(
                strict_codes=self.strict_codes
            )

    @pre_load
    def _reject_long_history(self, data: Any, **kwargs: Any) -> Any:
        """Refuse an over-long history before any item is validated."""
        # Field validators run only after every item is deserialized, which would let
        # one request near MAX_CONTENT_LENGTH buy tens of thousands of item checks.
        history = data.get("history") if isinstance(data, dict) else None
        if isinstance(history, list) and len(history) > self.max_history:
            try:
                self._history_length(history)
            except ValidationError as error:
                raise ValidationError(error.messages, field_name="history") from None
        return data


class EmbeddingRequestSchema(_HistoryBodySchema):
    """The body of an embeddings request: a patient history only."""


class PredictionRequestSchema(_HistoryBodySchema):
    """The body of POST /v1/predictions, exactly as forwarded to the upstream /predict."""

    num_predictions = fields.Integer(
        strict=True, load_default=1, validate=validate.Range(min=1, max=10)
    )
    generation_length = fields.Integer(
        strict=True, load_default=10, validate=validate.Range(min=1, max=128)
    )
    inference_threshold = StrictFloat(
        load_default=0.95, validate=validate.Range(min=0, max=1)
    )
    inference_temperature = StrictFloat(
        load_default=0.95, validate=validate.Range(min=0, max=2, min_inclusive=False)
    )


# --------------------------------------------------------------------------- responses


class CodedEventSchema(Schema):
    """One predicted event as the upstream returns it."""

    code = fields.String(required=True)
    system = fields.String(required=True)
    display = fields.String(required=True)


class UpstreamPredictResponseSchema(Schema):
    """The upstream's /predict answer; anything else is a bad response, never stored."""

    predictions = fields.List(fields.List(fields.Nested(CodedEventSchema)), required=True)


class PredictionErrorSchema(Schema):
    """Why a prediction failed."""

    code = fields.String(attribute="error_code")
    message = fields.String(attribute="error_message")


class PredictionSchema(Schema):
    """The prediction object of the API (every field server-owned, dump-only)."""

    id = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    input = fields.Raw(dump_only=True)
    output = fields.Raw(dump_only=True, allow_none=True)
    error = fields.Method("_error", dump_only=True, allow_none=True)
    created_at = fields.Function(lambda p: _timestamp(p.created_at), dump_only=True)
    started_at = fields.Function(lambda p: _timestamp(p.started_at), dump_only=True, allow_none=True)
    completed_at = fields.Function(lambda p: _timestamp(p.completed_at), dump_only=True, allow_none=True)
    metrics = fields.Method("_metrics", dump_only=True)
    urls = fields.Method("_urls", dump_only=True)

    def _error(self, prediction: Any) -> dict[str, str] | None:
        return PredictionErrorSchema().dump(prediction) if prediction.error_code else None

    def _metrics(self, prediction: Any) -> dict[str, int | None]:
        return {"queue_ms": prediction.queue_ms, "upstream_ms": prediction.upstream_ms,
                "attempts": prediction.attempts}

    def _urls(self, prediction: Any) -> dict[str, str]:
        return {
            "get": url_for("api.get_prediction", prediction_id=prediction.id, _external=True),
            "cancel": url_for("api.cancel_prediction", prediction_id=prediction.id, _external=True),
        }


def _timestamp(value: datetime | None) -> str | None:
    """RFC 3339 UTC with a Z, millisecond precision."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AccountSchema(Schema):
    """The account, as its owner sees it."""

    username = fields.String(dump_only=True)
    created_at = fields.Function(lambda u: _timestamp(u.created_at), dump_only=True)


class KeySummarySchema(Schema):
    """An API key without its secret."""

    name = fields.String(dump_only=True)
    prefix = fields.String(attribute="display_prefix", dump_only=True)
    created_at = fields.Function(lambda k: _timestamp(k.created_at), dump_only=True)
    last_used_at = fields.Function(lambda k: _timestamp(k.last_used_at), dump_only=True, allow_none=True)


class MeSchema(Schema):
    """GET /v1/me: account, the key in use, limits and usage."""

    account = fields.Nested(AccountSchema, dump_only=True)
    key = fields.Nested(KeySummarySchema, dump_only=True)
    limits = fields.Dict(dump_only=True)
    usage = fields.Dict(dump_only=True)
