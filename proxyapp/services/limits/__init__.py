"""Limits and usage: effective per-account limits, the rate limiter's storage and headers, usage figures.

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- headers: add_rate_limit_headers
- storage: HitReportingRedisStorage
- usage: effective_rate_limit, effective_max_pending, lock_account_row, pending_count, estimated_wait_seconds,
  ensure_pending_capacity, predictions_by_status, record_request, daily_request_counts, request_usage,
  account_summary
- usage_history: utc_day, DayUsage, UsageHistory, window, usage_history
"""

