"""proxyapp: a self-hostable proxy in front of GenHealth's inference API."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import DEV_SECRET_KEY, Config, load_config
from proxyapp import api, errors, queue, web
from proxyapp.extensions import csrf, db, limiter, login_manager, migrate
from proxyapp.models import User

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

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    _init_sqlite_pragmas(app)

    queue.init_queue(app)
    errors.register_error_handlers(app)
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    return app


def _apply_instance_defaults(app: Flask) -> None:
    """Development/testing defaults that live in the instance folder."""
    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'proxyapp.db'}"
    if app.config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY):
        app.config["SECRET_KEY"] = _instance_secret(instance / SECRET_KEY_FILE)


def _instance_secret(path: Path) -> str:
    """A random secret generated once per instance folder (development only)."""
    if not path.exists():
        # Written aside and linked into place so concurrent first starts agree on one secret.
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _init_sqlite_pragmas(app: Flask) -> None:
    """SQLite needs WAL and a busy timeout to serve web threads and workers at once."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine: Engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI objects are untyped
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))
