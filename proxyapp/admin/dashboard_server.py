"""`python -m proxyapp.admin.dashboard_server [--port 9181]`: rq-dashboard alone, on 127.0.0.1 only.

For operators on the host (or through an SSH tunnel) when the web app is not running;
it has no login, so it never listens beyond loopback and refuses cross-site requests.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

import waitress
from dotenv import load_dotenv
from flask import Flask, abort, request

from config import load_config
from proxyapp.admin.dashboard import add_dashboard_hooks, refuse_state_change_by_get, register_dashboard
from proxyapp.logs import configure_logging

HOST = "127.0.0.1"
DEFAULT_PORT = 9181


def require_same_origin() -> None:
    """403 for a browser request another site sent: a page elsewhere must not drive a loopback dashboard."""
    origin = request.headers.get("Origin")
    if request.method not in ("GET", "HEAD") and origin and urlsplit(origin).netloc != request.host:
        abort(403)


def standalone_app() -> Flask:
    """The dashboard alone, on the configured REDIS_URL."""
    app = Flask(__name__)
    register_dashboard(app, load_config().REDIS_URL)
    add_dashboard_hooks(app, [require_same_origin, refuse_state_change_by_get], [])
    return app


def main() -> None:
    """Serve the standalone dashboard with waitress on loopback."""
    parser = argparse.ArgumentParser(description="rq-dashboard for proxyapp's queue, on 127.0.0.1 only")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args()
    load_dotenv()
    configure_logging()
    waitress.serve(standalone_app(), host=HOST, port=args.port, threads=4, ident="proxyapp-dashboard")


if __name__ == "__main__":
    main()
