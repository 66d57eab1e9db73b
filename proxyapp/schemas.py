"""Marshmallow schemas: the JSON API's request validation and the OpenAPI document's source."""

from __future__ import annotations

import numbers
import typing
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from flask import current_app
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_dump,
    pre_load,
    validate,
    validates_schema,
)

from proxyapp.code_systems import SYSTEM_VALUES, UNKNOWN_SYSTEM_MESSAGE, code_problems
from proxyapp.links import prediction_urls, public_url_for
from proxyapp.models import PredictionKind, PredictionStatus
from proxyapp.services.webhooks.outbound import DeliveryRefused, check_url, policy_from_config

MAX_CODE_LENGTH = 64
MAX_SYSTEM_LENGTH = 32
MAX_DISPLAY_LENGTH = 512
DEFAULT_MAX_HISTORY = 512
MAX_PAGE_SIZE = 100
MAX_BATCH_SIZE = 100
MAX_EMBEDDING_DIMENSIONS = 16384
MAX_WEBHOOK_URL_LENGTH = 2048
WEBHOOK_EVENTS = ("start", "completed")
DEFAULT_WEBHOOK_EVENTS = ("completed",)

# A regex rather than a callable so the OpenAPI document can show it as a pattern.
_NOT_BLANK = validate.Regexp(r"[\s\S]*\S", error="Must not be blank.")


@lru_cache(maxsize=64)
def shared(schema_class: type[Schema], **options: typing.Any) -> Schema:
    """One instance per schema class and options, built once: building costs more than using it.

    Schemas are never changed after construction, so one instance serves every thread.
    """
    return schema_class(**options)


# --------------------------------------------------------------------------- fields


class StrictFloat(fields.Float):
    """A float field that takes JSON numbers only, not numeric strings."""

    def _validated(self, value: Any) -> float:
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def _text(max_length: int, *extra: validate.Validator) -> fields.String:
    """Return a required, non-blank string field capped at max_length characters."""
    return fields.String(
        required=True,
        validate=[validate.Length(max=max_length), _NOT_BLANK, *extra],
    )


class History(fields.List):
    """The history list: one quick pass takes a list whose items are all plainly valid.

    Any other list goes through the item schema as usual, so its messages stay the API's:
    the quick pass only ever accepts what `HistoryItemSchema` accepts, and returns the same
    items (tests/unit/test_schemas.py compares the two on generated items). A 512-item
    history costs the nested schema about 40 ms of CPU, and this pass about 1 ms.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[dict[str, str]]:
        item_schema = typing.cast(HistoryItemSchema, typing.cast(fields.Nested, self.inner).nested)
        items = plainly_valid_items(value, strict_codes=item_schema.strict_codes)
        return items if items is not None else super()._deserialize(value, attr, data, **kwargs)


_ITEM_FIELDS = frozenset({"code", "system", "display"})
_ITEM_LIMITS = (("code", MAX_CODE_LENGTH), ("system", MAX_SYSTEM_LENGTH), ("display", MAX_DISPLAY_LENGTH))


def plainly_valid_items(value: Any, *, strict_codes: bool) -> list[dict[str, str]] | None:
    """The history items as the item schema would load them, or None unless every one is plainly valid."""
    if type(value) is not list:
        return None
    items = []
    for item in value:
        if type(item) is not dict or item.keys() != _ITEM_FIELDS:
            return None
        for name, limit in _ITEM_LIMITS:
            text = item[name]
            if type(text) is not str or len(text) > limit or _NOT_BLANK.regex.match(text) is None:
                return None
        code, system, display = item["code"], item["system"], item["display"]
        if system not in SYSTEM_VALUES or code_problems(system, code, display, strict_codes=strict_codes):
            return None
        items.append({"code": code, "system": system, "display": display})
    return items


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

    history = History(fields.Nested(HistoryItemSchema), required=True)

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
        load_default=0.95, validate=validate.Range(min=0, max=2, min_inclusive=False),
        metadata={"exclusiveMinimum": True},  # apispec does not translate min_inclusive=False itself
    )


class BatchRequestSchema(Schema):
    """The body of POST /v1/batches: 1..100 prediction bodies, each validated like POST /v1/predictions."""

    class Meta:
        unknown = RAISE

    predictions = fields.List(fields.Nested(PredictionRequestSchema), required=True,
                              validate=validate.Length(min=1, max=MAX_BATCH_SIZE))

    def __init__(self, *, max_history: int = DEFAULT_MAX_HISTORY, strict_codes: bool = True, **kwargs: Any) -> None:
        """Build the schema; items follow the same history limit and code strictness."""
        self.item_schema = PredictionRequestSchema(max_history=max_history, strict_codes=strict_codes)
        super().__init__(**kwargs)

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        """Validate items with this instance's prediction schema."""
        if field_name == "predictions":
            typing.cast(fields.Nested, typing.cast(fields.List, field_obj).inner).nested = self.item_schema

    @pre_load
    def _reject_large_batch(self, data: Any, **kwargs: Any) -> Any:
        """Refuse an over-long batch before any item is validated (as for long histories)."""
        items = data.get("predictions") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) > MAX_BATCH_SIZE:
            raise ValidationError([f"Longer than maximum length {MAX_BATCH_SIZE}."], field_name="predictions")
        return data


def _check_webhook_url(url: str) -> None:
    """Refuse what a delivery would refuse anyway: http in production, credentials, private literal addresses."""
    try:
        check_url(url, policy_from_config(current_app.config))
    except DeliveryRefused as refusal:
        raise ValidationError(f"{str(refusal).capitalize()}.") from None


class WebhookFieldsSchema(Schema):
    """`webhook` and `webhook_events_filter`: where to send signed events about the submission."""

    webhook = fields.Url(schemes={"http", "https"}, require_tld=False, load_only=True,
                         validate=[validate.Length(max=MAX_WEBHOOK_URL_LENGTH), _check_webhook_url],
                         metadata={"description": "an https URL that receives signed events (Standard Webhooks); "
                                                  "see the `webhook` callback and /docs/guide",
                                   "example": "https://example.org/hooks/proxyapp"})
    webhook_events_filter = fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)), load_only=True,
        validate=validate.Length(min=1, max=len(WEBHOOK_EVENTS)),
        metadata={"description": "which events to send: `start` (a worker picked it up) and/or `completed` "
                                 "(succeeded, failed or canceled); default `[\"completed\"]`",
                  "example": list(DEFAULT_WEBHOOK_EVENTS)})

    @validates_schema
    def _filter_needs_webhook(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A filter without a webhook is a mistake worth telling."""
        if "webhook_events_filter" in data and "webhook" not in data:
            raise ValidationError("Only allowed together with `webhook`.", field_name="webhook_events_filter")


class PredictionSubmissionSchema(PredictionRequestSchema, WebhookFieldsSchema):
    """The body of POST /v1/predictions: the upstream body, plus an optional webhook."""


class EmbeddingSubmissionSchema(EmbeddingRequestSchema, WebhookFieldsSchema):
    """The body of POST /v1/embeddings: a patient history, plus an optional webhook."""


class BatchSubmissionSchema(BatchRequestSchema, WebhookFieldsSchema):
    """The body of POST /v1/batches: the items, plus an optional webhook for every item and the batch."""


# --------------------------------------------------------------------------- responses


class CodedEventSchema(Schema):
    """One predicted event as the upstream returns it."""

    code = fields.String(required=True)
    system = fields.String(required=True)
    display = fields.String(required=True)


class UpstreamPredictResponseSchema(Schema):
    """The upstream's /predict answer; anything else is a bad response, never stored."""

    predictions = fields.List(fields.List(fields.Nested(CodedEventSchema)), required=True)


class UpstreamEmbeddingResponseSchema(Schema):
    """The upstream's /embeddings answer: a non-empty, bounded list of numbers."""

    embedding = fields.List(StrictFloat(allow_nan=False), required=True,
                            validate=validate.Length(min=1, max=MAX_EMBEDDING_DIMENSIONS))


class Timestamp(fields.DateTime):
    """RFC 3339 UTC with a Z and millisecond precision, e.g. 2026-11-27T00:34:36.044Z."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PredictionErrorSchema(Schema):
    """Why a prediction failed."""

    code = fields.String(metadata={"example": "upstream_rejected"})
    message = fields.String()


class PredictionOutputSchema(Schema):
    """The result: sampled futures (kind `prediction`) or a vector (kind `embedding`)."""

    predictions = fields.List(fields.List(fields.Nested(CodedEventSchema)),
                              metadata={"description": "kind `prediction`: one list of events per requested future"})
    embedding = fields.List(fields.Float(), metadata={"description": "kind `embedding`: the upstream's vector"})


class PredictionMetricsSchema(Schema):
    """Timings and how many upstream calls the prediction took."""

    queue_ms = fields.Integer(allow_none=True, metadata={"description": "accepted → picked up by a worker"})
    upstream_ms = fields.Integer(allow_none=True, metadata={"description": "duration of the last upstream call"})
    attempts = fields.Integer(metadata={"description": "upstream calls made for this prediction"})


class PredictionUrlsSchema(Schema):
    """Where to fetch, cancel and follow the prediction."""

    get = fields.Url()
    cancel = fields.Url()
    stream = fields.Url(metadata={"description": "its status changes as Server-Sent Events"})


class PredictionSchema(Schema):
    """The prediction object of the API (every field server-owned, dump-only)."""

    id = fields.String(dump_only=True, metadata={"example": "01M8D6SVCC7F5QJK3907250KVY"})
    kind = fields.String(dump_only=True, validate=validate.OneOf([kind.value for kind in PredictionKind]))
    status = fields.String(dump_only=True, validate=validate.OneOf([status.value for status in PredictionStatus]))
    cached = fields.Boolean(dump_only=True, metadata={
        "description": "answered from the result cache: the earlier sample of an identical request, "
                       "no upstream call (send `Cache-Control: no-cache` for a fresh one)"})
    batch_id = fields.String(dump_only=True, allow_none=True, metadata={"description": "the batch it came in, if any"})
    input = fields.Nested(PredictionRequestSchema, dump_only=True, allow_none=True,
                          metadata={"description": "the request as validated; null once purged after retention"})
    output = fields.Nested(PredictionOutputSchema, dump_only=True, allow_none=True)
    error = fields.Nested(PredictionErrorSchema, dump_only=True, allow_none=True)
    created_at = Timestamp(dump_only=True)
    started_at = Timestamp(dump_only=True, allow_none=True)
    completed_at = Timestamp(dump_only=True, allow_none=True)
    metrics = fields.Nested(PredictionMetricsSchema, dump_only=True)
    urls = fields.Nested(PredictionUrlsSchema, dump_only=True)

    @pre_dump
    def _derive(self, prediction: Any, **kwargs: Any) -> dict[str, Any]:
        """Turn the model into the documented shape (error, metrics and URLs are derived)."""
        return {
            "id": prediction.id, "kind": prediction.kind, "status": prediction.status,
            "cached": bool(prediction.cached), "batch_id": prediction.batch_id,
            # Excluded fields are never read, so never decrypted (nor loaded, for a webhook's summary).
            "input": prediction.input if "input" in self.fields else None,
            "output": prediction.output if "output" in self.fields else None,
            "error": ({"code": prediction.error_code, "message": prediction.error_message}
                      if prediction.error_code else None),
            "created_at": prediction.created_at, "started_at": prediction.started_at,
            "completed_at": prediction.completed_at,
            "metrics": {"queue_ms": prediction.queue_ms, "upstream_ms": prediction.upstream_ms,
                        "attempts": prediction.attempts},
            "urls": prediction_urls(prediction.id),
        }

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        """The documented shape, built directly: every value is derived (or stored) in that shape already.

        A field-by-field dump would only copy each value (about 45 µs per object, most of a
        listing's cost); timestamps are the one conversion. tests/unit/test_api.py compares
        this with marshmallow's own dump for predictions in every state.
        """
        if self.many if many is None else many:
            return [self._dump_one(item) for item in obj]
        return self._dump_one(obj)

    def _dump_one(self, prediction: Any) -> dict[str, Any]:
        data = self._derive(prediction)
        return {name: field._serialize(data[name], name, data) if isinstance(field, Timestamp) else data[name]
                for name, field in self.fields.items()}


class PredictionSummarySchema(PredictionSchema):
    """The prediction object without `input` and `output`: what a webhook carries (no patient data)."""

    class Meta:
        exclude = ("input", "output")


class WebhookEventSchema(Schema):
    """A webhook delivery's body (Standard Webhooks envelope) for a prediction or embedding."""

    type = fields.String(dump_only=True, validate=validate.OneOf(["prediction.start", "prediction.completed"]))
    timestamp = Timestamp(dump_only=True, metadata={"description": "when the event happened"})
    data = fields.Nested(PredictionSummarySchema, dump_only=True)


class BatchWebhookEventSchema(Schema):
    """The body of a batch's `batch.completed` delivery (its items send prediction events of their own)."""

    type = fields.String(dump_only=True, validate=validate.OneOf(["batch.completed"]))
    timestamp = Timestamp(dump_only=True)
    data = fields.Nested("BatchSchema", dump_only=True)


class AccountSchema(Schema):
    """The account, as its owner sees it."""

    username = fields.String(dump_only=True)
    created_at = Timestamp(dump_only=True)


class KeySummarySchema(Schema):
    """An API key without its secret."""

    name = fields.String(dump_only=True)
    prefix = fields.String(attribute="display_prefix", dump_only=True, metadata={"example": "pxk_KseouO2E"})
    created_at = Timestamp(dump_only=True)
    last_used_at = Timestamp(dump_only=True, allow_none=True)
    expires_at = Timestamp(dump_only=True, allow_none=True, metadata={
        "description": "when the key stops working (the expiry chosen at creation, or the end of a rotation's "
                       "grace period); null: it does not expire. Past it the key gets 401 `key_expired`."})


class LimitsSchema(Schema):
    """The account's limits."""

    rate_limit = fields.String(metadata={"example": "100/minute"})
    poll_rate_limit = fields.String(metadata={"example": "1000/minute"})
    max_pending = fields.Integer()


class RequestUsageSchema(Schema):
    """Submissions in the current window and API requests today (UTC)."""

    window_used = fields.Integer()
    window_limit = fields.String()
    today = fields.Integer()


class UsageSchema(Schema):
    """Current usage of the account."""

    requests = fields.Nested(RequestUsageSchema)
    pending = fields.Integer()
    predictions = fields.Dict(keys=fields.String(), values=fields.Integer(),
                              metadata={"description": "count of the account's predictions per status"})


class MeSchema(Schema):
    """GET /v1/me: account, the key in use, limits and usage."""

    account = fields.Nested(AccountSchema, dump_only=True)
    key = fields.Nested(KeySummarySchema, dump_only=True)
    limits = fields.Nested(LimitsSchema, dump_only=True)
    usage = fields.Nested(UsageSchema, dump_only=True)


class PredictionListQuerySchema(Schema):
    """Query string of GET /v1/predictions."""

    status = fields.String(validate=validate.OneOf([s.value for s in PredictionStatus]))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    cursor = fields.String(validate=validate.Regexp(r"^[0-9A-HJKMNP-TV-Z]{26}$", error="Not a valid cursor."))


class PredictionPageSchema(Schema):
    """A page of predictions: `data`, newest first, and `next_cursor` (null on the last page)."""

    data = fields.List(fields.Nested(PredictionSchema), dump_only=True)
    next_cursor = fields.String(dump_only=True, allow_none=True)


class BatchItemSchema(Schema):
    """One prediction of a batch: its id and status."""

    id = fields.String(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf([status.value for status in PredictionStatus]))


class BatchUrlsSchema(Schema):
    """Where to fetch the batch."""

    get = fields.Url()


class BatchSchema(Schema):
    """The batch object: status counts, item ids in submission order, and their statuses."""

    id = fields.String(dump_only=True, metadata={"example": "01M8D6SVCC7F5QJK3907250KVY"})
    created_at = Timestamp(dump_only=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), dump_only=True,
                         metadata={"description": "how many items are in each status"})
    predictions = fields.List(fields.String(), dump_only=True, metadata={"description": "item ids, in order"})
    items = fields.List(fields.Nested(BatchItemSchema), dump_only=True)
    urls = fields.Nested(BatchUrlsSchema, dump_only=True)

    @pre_dump
    def _derive(self, summary: Any, **kwargs: Any) -> dict[str, Any]:
        """Turn a batch summary into the documented shape."""
        return {
            "id": summary.batch.id, "created_at": summary.batch.created_at, "counts": summary.counts,
            "predictions": [item["id"] for item in summary.items], "items": summary.items,
            "urls": {"get": public_url_for("api.get_batch", batch_id=summary.batch.id)},
        }
