"""proxyapp: a self-hostable proxy in front of GenHealth's inference API."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from config import DEV_SECRET_KEY, Config, load_config
from proxyapp import admin, api, docs, errors, ops, queue, web
from proxyapp.admin.dashboard import mount_rq_dashboard
from proxyapp.cli import register_commands
from proxyapp.crypto import init_crypto
from proxyapp.database import init_sqlite
from proxyapp.extensions import csrf, db, limiter, login_manager, migrate
from proxyapp.instance import read_or_create_secret
from proxyapp.logs import init_request_logging
from proxyapp.metrics.registry import init_metrics
from proxyapp.security import init_security
from proxyapp.services.predictions.waiting import init_wait_slots

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE = "secret_key"


def create_app(config: Config | None = None) -> Flask:
    """Assemble the app: config, extensions, blueprints, error handlers."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=os.environ.get("INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
    )
    app.config.from_object(config or load_config())
    app.json.sort_keys = False  # keep documented field order in API bodies
    _apply_instance_defaults(app)
    init_crypto(app)
    init_metrics(app)  # first, so its timer starts before any other hook runs
    init_security(app)
    init_request_logging(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    web.configure_sessions(app)
    limiter.init_app(app)
    init_sqlite(app)

    queue.init_queue(app)
    init_wait_slots(app)
    errors.register_error_handlers(app)
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(admin.bp)
    mount_rq_dashboard(app)
    app.register_blueprint(ops.bp)
    register_commands(app)
    return app


def _apply_instance_defaults(app: Flask) -> None:
    """Development/testing defaults that live in the instance folder."""
    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'proxyapp.db'}"
    if app.config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY):
        app.config["SECRET_KEY"] = read_or_create_secret(instance / SECRET_KEY_FILE, lambda: secrets.token_urlsafe(48))
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A file on this machine: a connection cannot go stale, so no ping before each use.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] = False
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A silently dropped database host must fail a request (503), not hang it.
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        options["connect_args"] = {"connect_timeout": app.config["DATABASE_CONNECT_TIMEOUT"], **options.get("connect_args", {})}
