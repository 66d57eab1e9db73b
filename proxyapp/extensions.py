"""Unbound extension instances; `create_app` binds them to an app."""

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from proxyapp.services.limits import storage as ratelimit_storage  # noqa: F401 - registers the limiter's storage scheme


class AppLimiter(Limiter):
    """Flask-Limiter that takes key prefix and strategy from each app's config.

    Flask-Limiter keeps the first app's values (`self._x = self._x or config[...]`); one
    process builds one app in production, but tests build many and each needs its own.
    """

    def init_app(self, app: Flask) -> None:
        """Forget the previous app's prefix and strategy, then initialise as usual."""
        self._key_prefix = ""
        self._strategy = None
        super().init_app(app)


class Base(DeclarativeBase):
    """Declarative base for all models; named constraints keep migrations portable."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


# Objects stay loaded after commit: views commit and then serialise what they committed,
# and expiring would cost a SELECT per touched object on every request.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = AppLimiter(key_func=get_remote_address)
