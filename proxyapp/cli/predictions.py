"""Operators' commands: `flask --app proxyapp predictions stats|requeue-stuck` and `… purge`."""

from __future__ import annotations

import json
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from proxyapp.services.operations.overview import SystemFigures, system_figures
from proxyapp.services.operations.readings import SOURCE_ERRORS
from proxyapp.services.predictions.reconcile import purge_expired_results, recover_lost_predictions
from proxyapp.services.webhooks.deliveries import purge_old_deliveries

predictions = AppGroup("predictions", help="Inspect and repair the prediction queue.")


def _pairs(counts: dict[str, int]) -> str:
    return "  ".join(f"{name} {count}" for name, count in counts.items()) or "none"


def _busiest(figures: SystemFigures) -> str:
    return "  ".join(f"{usage.username} {usage.predictions}" for usage in figures.top_accounts) or "none"


@predictions.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
def stats_command(as_json: bool) -> None:
    """Counts by status, the queue, workers, the circuit.

    Predictions by status (all, and submitted in the last hour), failures by error code,
    the accounts that submitted most in the last 24 hours, jobs waiting and the oldest
    queued prediction's age, live workers, and the upstream circuit breaker's state.
    """
    try:
        figures = system_figures()
    except SOURCE_ERRORS as error:
        raise click.ClickException(f"the database or Redis did not answer ({type(error).__name__})") from None
    if as_json:
        click.echo(json.dumps(figures.as_dict()))
        return
    click.echo(f"predictions  {_pairs(figures.predictions)}")
    click.echo(f"last hour    {_pairs(figures.last_hour)}")
    click.echo(f"failures     {_pairs(figures.failures)}")
    click.echo(f"busiest 24 h {_busiest(figures)}")
    click.echo(f"queue        {figures.queue_depth} jobs waiting; the oldest queued prediction has waited "
               f"{figures.oldest_queued_age_seconds:g} s")
    click.echo(f"workers      {figures.live_workers} live")
    click.echo(f"upstream     circuit {figures.upstream_circuit}")


@predictions.command("requeue-stuck")
def requeue_stuck_command() -> None:
    """Re-enqueue predictions that nothing is working on.

    Runs the scheduler's reconciler on queued or running predictions that no worker and no
    queue holds. One counts as stuck only once it has been seen without a run for a whole
    JOB_LEASE_SECONDS, so this makes two passes that far apart; one started MAX_RUNS times
    already is failed with `worker_lost` instead.
    """
    lease = current_app.config["JOB_LEASE_SECONDS"]
    click.echo(f"Looking for stuck predictions; confirming over one lease period ({lease:g} s)...")
    first = recover_lost_predictions()
    time.sleep(lease)
    second = recover_lost_predictions()
    click.echo(f"Re-enqueued {first[0] + second[0]}; failed {first[1] + second[1]} as worker_lost.")


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Drop old results (RESULT_RETENTION_DAYS).

    Inputs and outputs of predictions finished more than RESULT_RETENTION_DAYS ago are
    deleted; the rows stay, so counts and audit history remain. Webhook deliveries that old go.
    """
    purged = purge_expired_results()
    deliveries = purge_old_deliveries()
    click.echo(f"Purged the data of {purged} predictions finished more than "
               f"{current_app.config['RESULT_RETENTION_DAYS']} days ago.")
    if deliveries:
        click.echo(f"Deleted {deliveries} webhook deliveries made as long ago.")
