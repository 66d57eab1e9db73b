"""Fixtures for the security checklist: a production-configured app next to the testing one."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from config import ProductionConfig
from proxyapp import create_app
from proxyapp.extensions import db


def production_env(tmp_path: Path, redis_url: str, **overrides: str) -> dict[str, str]:
    """A complete production environment on throwaway services."""
    return {
        "APP_ENV": "production",
        "SECRET_KEY": "p" * 48,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.db'}",
        "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "REDIS_URL": redis_url,
        "UPSTREAM_URL": "https://upstream.invalid",
        "UPSTREAM_API_KEY": "gh_s_k-operator",
        "PUBLIC_URL": "https://proxy.example",
        **overrides,
    }


@pytest.fixture
def production_app(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """An app built exactly as production builds it."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(ProductionConfig(production_env(tmp_path, redis_url)))
    with application.app_context():
        db.create_all()
    return application
