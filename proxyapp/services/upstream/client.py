"""The client for GenHealth's inference API: one pooled session, timeouts, classified errors."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests

from proxyapp.metrics.shared import observe_upstream_call

log = logging.getLogger(__name__)


class UpstreamErrorCode(str, Enum):
    """How an upstream call failed, as stored on the prediction."""

    REJECTED = "upstream_rejected"  # final 4xx: the request itself is unacceptable upstream
    UNAVAILABLE = "upstream_unavailable"  # the operator's upstream key is refused
    RATE_LIMITED = "upstream_rate_limited"
    SERVER_ERROR = "upstream_error"
    TIMEOUT = "upstream_timeout"
    CONNECTION = "upstream_connection_error"
    BAD_RESPONSE = "upstream_bad_response"
    CIRCUIT_OPEN = "upstream_circuit_open"  # not sent: the upstream has been failing for everyone


TRANSIENT_CODES = frozenset(
    {
        UpstreamErrorCode.RATE_LIMITED,
        UpstreamErrorCode.SERVER_ERROR,
        UpstreamErrorCode.TIMEOUT,
        UpstreamErrorCode.CONNECTION,
    }
)


# What a client is told about a 4xx: the status's meaning, never the upstream's wording.
REJECTION_MESSAGES = {
    400: "The upstream rejected the request as invalid (HTTP 400).",
    404: "The upstream does not know this request (HTTP 404).",
    413: "The upstream rejected the request as too large (HTTP 413).",
    422: "The upstream could not process the request's content (HTTP 422).",
}


class UpstreamError(Exception):
    """A classified upstream failure; `is_transient` ones may succeed if retried."""

    def __init__(self, code: UpstreamErrorCode, message: str, *, retry_after: float | None = None,
                 elapsed_ms: int | None = None, is_retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.elapsed_ms = elapsed_ms
        self.is_retryable = is_retryable

    @property
    def is_transient(self) -> bool:
        """True for failures worth retrying (connection, timeout, 429, 5xx, a body cut short)."""
        return self.code in TRANSIENT_CODES or self.is_retryable


@dataclass(frozen=True)
class UpstreamResult:
    """A successful upstream answer and how long it took."""

    body: dict[str, Any]
    elapsed_ms: int


class UpstreamClient:
    """Calls `{base_url}/predict` and `/embeddings` with the operator's key."""

    def __init__(self, base_url: str, api_key: str, *, auth_scheme: str = "Token", connect_timeout: float = 3.05,
                 read_timeout: float = 30.0, max_response_bytes: int = 4 * 1024 * 1024) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.max_response_bytes = max_response_bytes
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"{auth_scheme} {api_key}", "Accept": "application/json"})

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> UpstreamClient:
        """A client configured from the app config."""
        return cls(
            config["UPSTREAM_URL"],
            config["UPSTREAM_API_KEY"],
            auth_scheme=config["UPSTREAM_AUTH_SCHEME"],
            connect_timeout=config["UPSTREAM_CONNECT_TIMEOUT"],
            read_timeout=config["UPSTREAM_TIMEOUT"],
            max_response_bytes=config["UPSTREAM_MAX_RESPONSE_BYTES"],
        )

    def predict(self, body: dict[str, Any], *, within: float | None = None) -> UpstreamResult:
        """POST /predict, giving up after `within` seconds if sooner than the timeouts."""
        with observe_upstream_call():
            return self._post("/predict", body, within)

    def embed(self, body: dict[str, Any], *, within: float | None = None) -> UpstreamResult:
        """POST /embeddings, giving up after `within` seconds if sooner than the timeouts."""
        return self._post("/embeddings", body, within)

    def _timeouts(self, within: float | None) -> tuple[float, float]:
        """The (connect, read) timeouts, shortened so a call cannot outlast a retry deadline."""
        if within is None:
            return self.timeout
        limit = max(within, 0.1)
        return min(self.timeout[0], limit), min(self.timeout[1], limit)

    def _post(self, path: str, body: dict[str, Any], within: float | None = None) -> UpstreamResult:
        started = time.monotonic()
        timeout = self._timeouts(within)
        try:
            with self.session.post(self.base_url + path, json=body, timeout=timeout, stream=True) as response:
                content = self._read_capped(response)
                elapsed_ms = int((time.monotonic() - started) * 1000)
                self._raise_for_status(response, content, elapsed_ms)
        except requests.Timeout:
            raise UpstreamError(UpstreamErrorCode.TIMEOUT, "The upstream did not answer in time.",
                                elapsed_ms=_since(started)) from None
        except requests.ConnectionError:
            raise UpstreamError(UpstreamErrorCode.CONNECTION, "Could not connect to the upstream.",
                                elapsed_ms=_since(started)) from None
        return UpstreamResult(body=_parse_json(content, elapsed_ms), elapsed_ms=elapsed_ms)

    def _read_capped(self, response: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise UpstreamError(UpstreamErrorCode.BAD_RESPONSE, "The upstream response was too large.")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _raise_for_status(response: requests.Response, content: bytes, elapsed_ms: int) -> None:
        status = response.status_code
        if status < 400:
            return
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        if status in (401, 403):
            log.error("upstream refused the operator's API key (HTTP %s); check UPSTREAM_API_KEY", status)
            raise UpstreamError(UpstreamErrorCode.UNAVAILABLE, "The upstream service is not available right now.",
                                elapsed_ms=elapsed_ms)
        if status == 429:
            raise UpstreamError(UpstreamErrorCode.RATE_LIMITED, "The upstream is rate limiting requests.",
                                retry_after=retry_after, elapsed_ms=elapsed_ms)
        if status >= 500:
            raise UpstreamError(UpstreamErrorCode.SERVER_ERROR, f"The upstream failed with HTTP {status}.",
                                retry_after=retry_after, elapsed_ms=elapsed_ms)
        raise UpstreamError(UpstreamErrorCode.REJECTED, _upstream_message(content, status), elapsed_ms=elapsed_ms)


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _parse_json(content: bytes, elapsed_ms: int) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        # A truncated or garbled body is a transport accident more often than a steady upstream bug:
        # retried within the deadline like a 5xx, and still upstream_bad_response if it keeps happening.
        raise UpstreamError(UpstreamErrorCode.BAD_RESPONSE, "The upstream answered with malformed JSON.",
                            elapsed_ms=elapsed_ms, is_retryable=True) from None
    if not isinstance(body, dict):
        raise UpstreamError(UpstreamErrorCode.BAD_RESPONSE, "The upstream answered with an unexpected body.",
                            elapsed_ms=elapsed_ms)
    return body


def _upstream_message(content: bytes, status: int) -> str:
    """A classified explanation of a 4xx; never the upstream's own text, which may echo patient codes."""
    del content  # deliberately unused: the upstream's text is neither stored nor shown
    return REJECTION_MESSAGES.get(status, f"The upstream rejected the request with HTTP {status}.")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
