"""The account's usage over 30 days (charts and tables) and its predictions, paged and filtered."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from proxyapp.models import ApiKey
from proxyapp.schemas import PredictionListQuerySchema
from proxyapp.services.accounts.overview import recent_predictions
from proxyapp.services.keys.lifecycle import find_owned_key, list_keys
from proxyapp.services.limits.usage_history import STATUS_SERIES, UsageHistory, usage_history
from proxyapp.web.charts import BarChart, Series, bar_chart

PAGE_SIZE = 25
ERROR_PALETTE = 6  # error codes cycle through this many colours (fill-code-0 … fill-code-5 in app.css)


@dataclass(frozen=True)
class UsageChart:
    """A chart with the sentence that sums it up (its SVG `<desc>`)."""

    chart: BarChart
    description: str


def _describe(labels: list[str], values: list[int | None], what: str) -> str:
    known = [(value or 0, label) for label, value in zip(labels, values, strict=True)]
    total = sum(value for value, _ in known)
    if not total:
        return f"No {what} in the last 30 days."
    peak, day = max(known, key=lambda pair: (pair[0], pair[1]))
    return f"{total:,} {what} in the last 30 days; the most, {peak:,}, on {day}."


def usage_charts(history: UsageHistory) -> dict[str, UsageChart]:
    """The page's four charts: requests, predictions by status, failures by error code, latency."""
    labels = [day.day.isoformat() for day in history.days]
    short = [f"{day.day.day} {day.day:%b}" for day in history.days]
    requests = [day.requests for day in history.days]
    statuses = [Series(status, [day.statuses[status] for day in history.days], f"fill-{status}")
                for status in STATUS_SERIES]
    errors = [Series(code, [day.errors.get(code, 0) for day in history.days], f"fill-code-{n % ERROR_PALETTE}")
              for n, code in enumerate(history.error_codes)]
    latency = [Series(f"p{p}", [getattr(day, f"p{p}") for day in history.days], f"fill-p{p}") for p in (50, 95)]
    timed = [day for day in history.days if day.timed]
    slowest = max(timed, key=lambda day: (day.p95, day.day), default=None)
    return {
        "requests": UsageChart(bar_chart(labels, [Series("requests", requests, "fill-requests")], axis_labels=short),
                               _describe(labels, requests, "API requests")),
        "statuses": UsageChart(bar_chart(labels, statuses, axis_labels=short),
                               _describe(labels, [day.predictions for day in history.days], "predictions")),
        "errors": UsageChart(bar_chart(labels, errors, axis_labels=short),
                             _describe(labels, [sum(day.errors.values()) for day in history.days],
                                       "failures with an error code")),
        "latency": UsageChart(bar_chart(labels, latency, stacked=False, unit=" ms", axis_labels=short),
                              f"Upstream latency measured on {len(timed)} of the last 30 days; the highest p95, "
                              f"{slowest.p95:,} ms, on {slowest.day.isoformat()}." if slowest else
                              "No upstream latency measured in the last 30 days."),
    }


def _selected_key(raw: str | None) -> tuple[ApiKey | None, str | None]:
    """The key chosen with `?key=` (someone else's → 404), or None and why the value was ignored."""
    if not raw:
        return None, None
    if not raw.isdigit() or len(raw) > 18:
        return None, f"“{raw[:40]}” is not one of your keys; showing the whole account."
    return find_owned_key(current_user, int(raw)), None


@login_required
def usage() -> ResponseReturnValue:
    """The last 30 UTC days of the account, or of one key (`?key=ID`), as charts with tables."""
    key, problem = _selected_key(request.args.get("key"))
    history = usage_history(current_user, key)
    return render_template("account_usage.html", history=history, charts=usage_charts(history),
                           keys=list_keys(current_user), problem=problem)


def _listing_filters() -> tuple[dict[str, str], list[str]]:
    """`status` and `cursor` from the query string; invalid ones are dropped, with a message each."""
    given = {name: request.args[name] for name in ("status", "cursor") if request.args.get(name)}
    errors = PredictionListQuerySchema().validate(given)
    problems = []
    if "status" in errors:
        problems.append(f"“{given['status'][:40]}” is not a status; showing predictions of every status.")
    if "cursor" in errors:
        problems.append("That page link is not valid; showing the newest predictions.")
    return {name: value for name, value in given.items() if name not in errors}, problems


@login_required
def predictions() -> ResponseReturnValue:
    """The account's predictions, newest first, `PAGE_SIZE` a page (`?cursor=`), by status (`?status=`)."""
    filters, problems = _listing_filters()
    page = recent_predictions(current_user, limit=PAGE_SIZE, **filters)
    keys = {key.id: key for key, _ in list_keys(current_user)}
    return render_template("account_predictions.html", page=page, keys_by_id=keys, status=filters.get("status"),
                           is_first_page="cursor" not in filters, problems=problems)
