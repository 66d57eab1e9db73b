"""Predictions: creation and the state machine, batches, listing, idempotency, the result cache,
bounded waiting, finish notifications, the run of one job, and what keeps runs moving (leases, holding, the
reconciler).

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- batch_summary: BatchSummary, summarize
- batches: create_batch, get_owned_batch
- holding: held_key, hold_back, held_ids, enqueue_due_held_jobs
- idempotency: check_key, fingerprint, recorded_prediction_id, record, forget
- leases: lease_key, Lease, hold, is_held
- lifecycle: create_prediction, new_prediction, queue_unavailable, wait_for_finish, watch, enqueue_prediction,
  job_options, get_owned_prediction, mark_running, requeue_running, record_attempt, mark_succeeded, mark_failed,
  JobRequest, validated_output, cancel_prediction
- listing: Page, list_predictions
- notify: announce_finished, wait_until_announced
- reconcile: run_due_pass, recover_lost_predictions, requeue_prediction, purge_expired_results
- result_cache: is_enabled, cache_key, lookup, store, mark_hit
- run: RunEnded, run_prediction
- waiting: WaitSlots, init_wait_slots, wait_slots
"""

