"""An offline stand-in for GenHealth's inference API, for development, tests and benchmarks."""

from __future__ import annotations

from flask import Flask

from simulator import control, responses, upstream
from simulator.settings import Settings
from simulator.state import EXTENSION_KEY, SimulatorState

MAX_CONTENT_LENGTH = 16 * 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Assemble the simulator app; settings default to the SIMULATOR_* environment."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.extensions[EXTENSION_KEY] = SimulatorState(settings or Settings.from_env())
    responses.register(app)
    app.register_blueprint(upstream.bp)
    app.register_blueprint(control.bp)
    return app
