"""Jinja filters for the pages."""

from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from markupsafe import Markup


def format_time(value: datetime | None, missing: str = "—", *, wrap: bool = False,
                seconds: bool = False) -> Markup | str:
    """A UTC timestamp as a `<time>` reading `2025-01-31 14:05 UTC`, or a placeholder when absent.

    With `wrap`, a narrow column may put the time under the date (never a break inside either);
    with `seconds`, the time reads `14:05:09`.
    """
    if value is None:
        return missing
    clock = value.strftime("%H:%M:%S UTC" if seconds else "%H:%M UTC")
    if wrap:
        return Markup('<time datetime="{}" class="wraps"><span>{}</span> <span>{}</span></time>').format(
            value.isoformat(), value.strftime("%Y-%m-%d"), clock)
    return Markup('<time datetime="{}">{} {}</time>').format(value.isoformat(), value.strftime("%Y-%m-%d"), clock)


def format_duration(seconds: int) -> str:
    """A whole number of seconds in the largest unit that fits: `24 hours`, `90 minutes`, `3 seconds`."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def focus_field(form: FlaskForm, default: str | None = None) -> str | None:
    """The field a page should focus: the first one with an error, else `default`."""
    return next((field.name for field in form if field.errors), default)
