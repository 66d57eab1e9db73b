"""Serve the simulator with waitress: python -m simulator [--host H] [--port P] [--threads N]."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

from waitress.server import create_server

from simulator import create_app, vocabulary
from simulator.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100
# Enough workers that dozens of concurrent slow (latency/hang) calls never queue.
DEFAULT_THREADS = 64


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    """Parse the command line; SIMULATOR_HOST and SIMULATOR_PORT supply the defaults."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default=environ.get("SIMULATOR_HOST", DEFAULT_HOST), help="address to bind")
    parser.add_argument(
        "--port", type=int, default=environ.get("SIMULATOR_PORT", DEFAULT_PORT), help="0 picks a free port"
    )
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="waitress worker threads")
    # Quiet by default: a parent that never reads our stderr pipe must not block us.
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGINT or SIGTERM; return the exit status."""
    args = parse_args(argv, os.environ)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except ValueError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _exit_on_signal)
    vocabulary.warm_up()
    try:
        server = _create_server(args, settings)
    except OSError as exc:
        print(f"simulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"simulator listening on {_url(server)}", flush=True)
    server.run()
    return 0


def _create_server(args: argparse.Namespace, settings: Settings) -> Any:
    """Bind a waitress server for the simulator app (port 0 picks a free port)."""
    return create_server(
        create_app(settings),
        host=args.host,
        port=args.port,
        threads=args.threads,
        connection_limit=max(100, 2 * args.threads),
        asyncore_use_poll=True,
        ident="simulator",
    )


def _url(server: Any) -> str:
    """Return the URL of the (first) socket the server listens on."""
    listening = getattr(server, "effective_listen", None)
    host, port = listening[0] if listening else (server.effective_host, server.effective_port)
    return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit, which waitress catches to shut its workers down."""
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
