"""Settings of the job lifecycle: defaults, and the deadline that must end before RQ kills the job."""

import pytest

from config import ConfigError, load_config


def test_job_lifecycle_defaults():
    config = load_config({})
    assert config.UPSTREAM_MAX_ATTEMPTS == 5
    assert config.UPSTREAM_DEADLINE == 90 < config.JOB_TIMEOUT == 120
    assert (config.CIRCUIT_FAILURE_THRESHOLD, config.CIRCUIT_OPEN_SECONDS) == (5, 30)
    assert config.IDEMPOTENCY_TTL_SECONDS == 24 * 3600
    assert (config.RECONCILE_INTERVAL_SECONDS, config.JOB_LEASE_SECONDS, config.MAX_RUNS) == (10, 20, 3)
    assert config.RESULT_RETENTION_DAYS == 30


def test_the_deadline_follows_the_job_timeout_by_default():
    assert load_config({"JOB_TIMEOUT": "40"}).UPSTREAM_DEADLINE == 30


@pytest.mark.parametrize("deadline", ["120", "200", "0"])
def test_a_deadline_not_below_the_job_timeout_is_refused(deadline):
    with pytest.raises(ConfigError, match="UPSTREAM_DEADLINE"):
        load_config({"UPSTREAM_DEADLINE": deadline})


@pytest.mark.parametrize("name", ["UPSTREAM_MAX_ATTEMPTS", "MAX_RUNS", "JOB_LEASE_SECONDS",
                                  "RECONCILE_INTERVAL_SECONDS", "CIRCUIT_FAILURE_THRESHOLD", "IDEMPOTENCY_TTL_SECONDS"])
def test_counts_and_intervals_must_be_positive(name):
    with pytest.raises(ConfigError, match=name):
        load_config({name: "0"})
