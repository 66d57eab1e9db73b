"""Encryption of patient data at rest: Fernet tokens under DATA_ENCRYPTION_KEY (MultiFernet).

DATA_ENCRYPTION_KEY holds one or more comma-separated Fernet keys, newest first: data is
written under the first and read under any, so keys rotate without downtime
(`flask data reencrypt` rewrites old rows under the newest key).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Integer, String, Text, column, select, table, update

from config import ConfigError
from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.instance import read_or_create_secret

DATA_KEY_FILE = "data_encryption_key"
_TOKEN_PREFIX = "gAAAAA"  # every Fernet token starts with its version byte 0x80, base64 "gA"


def parse_keys(value: str) -> MultiFernet:
    """A MultiFernet from comma-separated keys; ConfigError naming the variable if one is bad."""
    try:
        return MultiFernet([Fernet(key.strip()) for key in value.split(",") if key.strip()])
    except (ValueError, TypeError):
        raise ConfigError("DATA_ENCRYPTION_KEY must be comma-separated Fernet keys "
                          "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
                          ) from None


def init_crypto(app: Flask) -> None:
    """Bind the app's MultiFernet (the configured keys, or the instance folder's key)."""
    configured = app.config.get("DATA_ENCRYPTION_KEY")
    keys = configured or read_or_create_secret(Path(app.instance_path) / DATA_KEY_FILE,
                                               lambda: Fernet.generate_key().decode())
    app.extensions["fernet"] = parse_keys(keys)


def _fernet() -> MultiFernet:
    return current_app.extensions["fernet"]


def encrypt_json(value: Any) -> str:
    """Serialise and encrypt a JSON value under the newest key."""
    return _fernet().encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()


def decrypt_json(stored: str) -> Any:
    """Decrypt a stored value (plaintext JSON from before encryption is still readable)."""
    if not stored.startswith(_TOKEN_PREFIX):
        return json.loads(stored)
    try:
        return json.loads(_fernet().decrypt(stored.encode()))
    except InvalidToken:
        raise ConfigError("Stored patient data cannot be decrypted: DATA_ENCRYPTION_KEY lacks the key "
                          "it was written with") from None


def reencrypt(stored: str) -> str:
    """The same value encrypted under the newest key (plaintext rows get encrypted)."""
    if not stored.startswith(_TOKEN_PREFIX):
        return encrypt_json(json.loads(stored))
    return _fernet().rotate(stored.encode()).decode()


_RAW_PREDICTIONS = table("predictions", column("id", String), column("input", Text), column("output", Text))
_RAW_SIGNING_KEYS = table("webhook_signing_keys", column("user_id", Integer), column("secret", Text),
                          column("previous_secret", Text))


def reencrypt_signing_keys() -> int:
    """Rewrite every account's webhook signing secrets under the newest key; returns rows rewritten."""
    begin_write()
    rows = db.session.execute(select(_RAW_SIGNING_KEYS)).all()
    for row in rows:
        values = {"secret": reencrypt(row.secret)}
        if row.previous_secret is not None:
            values["previous_secret"] = reencrypt(row.previous_secret)
        db.session.execute(update(_RAW_SIGNING_KEYS).where(_RAW_SIGNING_KEYS.c.user_id == row.user_id).values(**values))
    db.session.commit()
    return len(rows)


_RAW_TWO_FACTOR = table("two_factor", column("user_id", Integer), column("secret", Text))


def reencrypt_two_factor_secrets() -> int:
    """Rewrite every account's TOTP secret under the newest key; returns rows rewritten."""
    begin_write()
    rows = db.session.execute(select(_RAW_TWO_FACTOR)).all()
    for row in rows:
        db.session.execute(update(_RAW_TWO_FACTOR).where(_RAW_TWO_FACTOR.c.user_id == row.user_id)
                           .values(secret=reencrypt(row.secret)))
    db.session.commit()
    return len(rows)


def reencrypt_all(batch_size: int = 500) -> int:
    """Rewrite every stored input and output under the newest key; returns rows rewritten."""
    rewritten, last_id = 0, ""
    while True:
        begin_write()  # read and rewrite each batch under the write lock: no update lands in between
        rows = db.session.execute(
            select(_RAW_PREDICTIONS).where(_RAW_PREDICTIONS.c.id > last_id)
            .order_by(_RAW_PREDICTIONS.c.id).limit(batch_size)
        ).all()
        if not rows:
            return rewritten
        for row in rows:
            values = {name: reencrypt(value) for name, value in (("input", row.input), ("output", row.output))
                      if value is not None}
            if values:
                db.session.execute(update(_RAW_PREDICTIONS).where(_RAW_PREDICTIONS.c.id == row.id).values(**values))
                rewritten += 1
        db.session.commit()
        last_id = rows[-1].id
