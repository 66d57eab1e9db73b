"""Outgoing mail over SMTP_URL: one plain-text message per connection, sent from a worker job.

Failures raise MailNotSent whose message names only the kind of error: smtplib's own
exceptions can carry the recipient's address, which must not reach logs or RQ's registry.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from rq import Retry

from config import SmtpSettings, parse_smtp_url
from proxyapp.queue import get_queue

MAIL_JOB_TIMEOUT = 60
MAIL_RETRY_INTERVALS = [10, 60, 300]  # seconds between attempts when the SMTP server is down


class MailNotSent(Exception):
    """The SMTP server was unreachable or refused the message."""


def is_mail_enabled() -> bool:
    """True when SMTP_URL is configured (mail can be sent)."""
    return bool(current_app.config.get("SMTP_URL"))


def _connect(smtp: SmtpSettings, timeout: float) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if smtp.security == "tls":
        return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    if smtp.security == "starttls":
        try:
            client.starttls(context=context)  # refused or failed: never carry on in plain text
        except BaseException:
            client.close()
            raise
    return client


def _message(to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=message["From"].addresses[0].domain or None)
    message.set_content(body)
    return message


def send_mail(to: str, subject: str, body: str) -> None:
    """Send one message through SMTP_URL; raises MailNotSent (naming only the error's kind)."""
    config = current_app.config
    smtp = parse_smtp_url(config["SMTP_URL"])
    try:
        with _connect(smtp, config["SMTP_TIMEOUT"]) as client:
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(_message(to, subject, body))
    except (smtplib.SMTPException, OSError, ValueError) as error:
        raise MailNotSent(f"the SMTP server did not take the message ({type(error).__name__})") from None


def enqueue_mail_job(job: str, *args: object) -> None:
    """Queue a mail job by dotted path; retried while the SMTP server is down (a fixed description: no address)."""
    get_queue().enqueue(job, *args, job_timeout=MAIL_JOB_TIMEOUT, result_ttl=0, failure_ttl=24 * 3600,
                        retry=Retry(max=len(MAIL_RETRY_INTERVALS), interval=MAIL_RETRY_INTERVALS),
                        description="account mail")
