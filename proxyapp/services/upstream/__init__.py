"""The upstream inference API: its HTTP client, retries with backoff, and the shared circuit breaker.

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- circuit: CircuitState, CircuitOpenError, CircuitBreaker, circuit_breaker
- client: UpstreamErrorCode, UpstreamError, UpstreamResult, UpstreamClient
- retrying: RetryPolicy, Calls, Retries
"""

