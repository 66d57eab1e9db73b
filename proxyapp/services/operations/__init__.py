"""Operational figures: the readings behind /readyz and /metrics, readiness checks, the operator's overview.

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- overview: AccountUsage, SystemFigures, recent_counts, top_accounts, system_figures, read_system_figures
- readiness: check_readiness
- readings: PendingFigures, pending_figures, prediction_counts, failure_counts, queue_depth,
  beat_window, record_worker_beat, live_workers, overdue_runs, reconciler_age, is_reconciler_stale
"""

