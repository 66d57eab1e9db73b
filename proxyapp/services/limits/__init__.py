"""Limits and usage: which limit applies (rules), the rate limiter's storage and headers, usage figures.

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- headers: add_rate_limit_headers
- rules: Scope, InvalidLimit, parse_limits, require_limit, scaled_limit, key_identity, account_identity,
  username_identity, client_username_identity, window_args, effective_rate_limit, effective_max_pending,
  submission_limit, poll_limit, anonymous_limit, login_limit, login_ip_limit, login_username_limit, register_limit,
  forgot_limit
- storage: HitReportingRedisStorage
- usage: lock_account_row, pending_count, estimated_wait_seconds, ensure_pending_capacity, predictions_by_status,
  record_request, daily_request_counts, request_usage, account_summary
- usage_history: utc_day, DayUsage, UsageHistory, window, usage_history
"""

