"""Helpers for the account-recovery tests: run queued mail jobs in-process, confirmed emails."""

from __future__ import annotations

import pytest
from flask import Flask

from proxyapp.extensions import db
from proxyapp.models import User, utcnow
from proxyapp.queue import get_queue

MAIL_JOBS = ("workers.mail.send_password_reset", "workers.mail.send_reset_to_account",
             "workers.mail.send_email_verification")


def queued_mail_jobs(app: Flask) -> list:
    """Take the mail jobs off the app's queue."""
    with app.app_context():
        queue = get_queue()
        jobs = [job for job in queue.get_jobs() if job.func_name in MAIL_JOBS]
        for job in jobs:
            queue.remove(job)
        return jobs


def run_mail_jobs(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list:
    """Run every queued mail job in this process, as a worker would; what each returned."""
    monkeypatch.setattr("workers.context._app", app)
    return [job.func(*job.args) for job in queued_mail_jobs(app)]


def confirm_email(app: Flask, user_id: int, email: str) -> None:
    """Give an account a confirmed email (as if its verification link had been used)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        user.email, user.email_verified_at = email, utcnow()
        db.session.commit()
