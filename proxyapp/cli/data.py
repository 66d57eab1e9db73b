"""`flask --app proxyapp data reencrypt`: stored patient data after a DATA_ENCRYPTION_KEY rotation."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from proxyapp.crypto import reencrypt_all, reencrypt_signing_keys, reencrypt_two_factor_secrets

data = AppGroup("data", help="Manage stored patient data.")


@data.command("reencrypt")
def reencrypt_command() -> None:
    """Rewrite all stored inputs and outputs under the first DATA_ENCRYPTION_KEY (after a rotation)."""
    click.echo(f"Re-encrypted {reencrypt_all()} predictions under the newest key.")
    keys = reencrypt_signing_keys()
    if keys:
        click.echo(f"Re-encrypted {keys} webhook signing secrets under the newest key.")
    secrets = reencrypt_two_factor_secrets()
    if secrets:
        click.echo(f"Re-encrypted {secrets} two-factor secrets under the newest key.")
