"""`flask --app proxyapp users …`: operators' account commands (create-admin, list, disable, limits, …)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from proxyapp.admin.forms import MAX_PENDING_CAP
from proxyapp.links import links_from
from proxyapp.models import User
from proxyapp.services.accounts import admin
from proxyapp.services.accounts.lifecycle import InvalidCredentials, UsernameTaken, create_admin, find_user
from proxyapp.services.accounts.passwords import password_problem
from proxyapp.services.accounts.recovery import create_reset_link, set_password_by_operator
from proxyapp.services.limits.rules import LIMIT_EXAMPLES, InvalidLimit, parse_limits
from proxyapp.services.signin import two_factor

users = AppGroup("users", help="Manage accounts.")


def _password_from(stdin: bool) -> str:
    """The new password: the first line of standard input, or asked for twice without echo."""
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create-admin")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create_admin_command(username: str, password_stdin: bool) -> None:
    """Create an administrator account named USERNAME (asks for the password)."""
    try:
        user = create_admin(username, _password_from(password_stdin))
    except UsernameTaken:
        raise click.ClickException(f"the username {username!r} is taken") from None
    except InvalidCredentials as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(f"Created administrator {user.username}.")


def _account(username: str) -> User:
    user = find_user(username)
    if user is None:
        raise click.ClickException(f"no account named {username!r}")
    return user


def _describe(user: User) -> str:
    role = "admin" if user.is_admin else "user"
    status = "disabled" if user.is_disabled else "active"
    pending = "default" if user.max_pending is None else user.max_pending
    return f"{user.id:>6}  {user.username:<24} {role:<5}  {status:<8}  {user.rate_limit or 'default':<20} {pending}"


@users.command("list")
@click.option("--search", default="", help="Only usernames containing this text.")
def list_command(search: str) -> None:
    """List accounts with their status and limits."""
    click.echo(f"{'id':>6}  {'username':<24} {'role':<5}  {'status':<8}  {'rate limit':<20} pending cap")
    page, more = 1, True
    while more:
        batch = admin.list_users(search, page)
        for user in batch.items:
            click.echo(_describe(user))
        page, more = page + 1, batch.has_next


@users.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Disable an account (audited).

    USERNAME can no longer sign in and every one of its keys gets 403.
    """
    admin.set_disabled(None, _account(username), True)
    click.echo(f"{username} is disabled.")


@users.command("enable")
@click.argument("username")
def enable_command(username: str) -> None:
    """Re-enable a disabled account (audited)."""
    admin.set_disabled(None, _account(username), False)
    click.echo(f"{username} is enabled.")


@users.command("reset-password")
@click.argument("username")
@click.option("--link", is_flag=True, help="Print a one-time reset link (needs PUBLIC_URL) instead of setting a password.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of standard input.")
def reset_password_command(username: str, link: bool, password_stdin: bool) -> None:
    """Set USERNAME's password (asked for twice), or print a one-time reset link.

    Either way every session of the account ends once the password changes, and the
    audit trail records it. The person chooses the password themselves with --link.
    """
    user = _account(username)
    if link:
        if not current_app.config.get("PUBLIC_URL"):
            raise click.ClickException("set PUBLIC_URL (the origin people open) to print a link")
        with links_from(None):
            click.echo(create_reset_link(user, audited=True))
        return
    password = _password_from(password_stdin)
    problem = password_problem(password, user.username)
    if problem:
        raise click.ClickException(problem)
    set_password_by_operator(user, password)
    click.echo(f"The password of {user.username} is set; every session of the account has ended.")


def _rate_limit(value: str) -> str | None:
    if value == "default":
        return None
    try:
        parse_limits(value)
    except InvalidLimit:
        raise click.BadParameter(f"write a limit such as {LIMIT_EXAMPLES}") from None
    return value


def _max_pending(value: str) -> int | None:
    if value == "default":
        return None
    if not value.isdigit() or int(value) > MAX_PENDING_CAP:
        raise click.BadParameter(f"a whole number from 0 to {MAX_PENDING_CAP}, or default")
    return int(value)


@users.command("disable-2fa")
@click.argument("username")
def disable_two_factor_command(username: str) -> None:
    """Turn off an account's two-factor sign-in, for someone who lost the app and the recovery codes (audited)."""
    user = _account(username)
    if not two_factor.is_enrolled(user):
        raise click.ClickException(f"{username} does not use two-factor sign-in")
    two_factor.remove(user, actor=None)
    click.echo(f"{username}: two-factor sign-in is off; the password alone signs in until they enrol again.")


@users.command("set-limit")
@click.argument("username")
@click.option("--rate-limit", help="Per key and per account, e.g. 100/minute; `default` for RATE_LIMIT.")
@click.option("--max-pending", help="Queued + running predictions; `default` for MAX_PENDING.")
def set_limit_command(username: str, rate_limit: str | None, max_pending: str | None) -> None:
    """Set an account's limits (audited)."""
    if rate_limit is None and max_pending is None:
        raise click.UsageError("give --rate-limit, --max-pending or both")
    user = _account(username)
    new_rate = user.rate_limit if rate_limit is None else _rate_limit(rate_limit)
    new_pending = user.max_pending if max_pending is None else _max_pending(max_pending)
    admin.set_limits(None, user, new_rate, new_pending)
    click.echo(f"{username}: rate limit {new_rate or 'default'}, pending cap "
               f"{'default' if new_pending is None else new_pending}.")
