"""Command-line tools (`flask --app proxyapp users|data|predictions|purge …`), added to the app by create_app.

One module per command group: users.py (accounts), data.py (stored patient data) and
predictions.py (the prediction queue, and `purge`).
"""

from __future__ import annotations

from flask import Flask

from proxyapp.cli.data import data
from proxyapp.cli.predictions import predictions, purge_command
from proxyapp.cli.users import users


def register_commands(app: Flask) -> None:
    """Add the command groups to the app's `flask` command."""
    app.cli.add_command(users)
    app.cli.add_command(data)
    app.cli.add_command(predictions)
    app.cli.add_command(purge_command)
