"""What the app does, behind the views, the jobs and the commands: one group per concern.

Each group's __init__.py is an index of its modules and their public names.

- accounts: registration and credentials, email, password recovery, mail, the account page's overview,
  administrators' actions and the audit trail
- signin: server-side sessions, two-factor codes (TOTP) and their recovery codes
- keys: API keys, their format and lookup, and an account's keys over their lifetime
- predictions: creation and the state machine, the run of one job, batches, listing, idempotency, the result
  cache, bounded waiting, finish notifications, leases, holding back, the reconciler
- upstream: the inference API's HTTP client, retries with backoff, the shared circuit breaker
- limits: which limits apply to whom and their windows, the rate limiter's storage and headers, usage figures
- operations: the readings behind /readyz and /metrics, readiness checks, the operator's overview
- webhooks: events and targets, Standard Webhooks signing and its keys, the guarded outbound call, deliveries
"""
