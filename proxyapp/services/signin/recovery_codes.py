"""One-time recovery codes for two-factor sign-in: made in sets, shown once, stored salted and hashed.

Each code has about 79 random bits (16 characters of a 31-letter alphabet without 0/o,
1/i/l); below ASVS's 112 bits, so each is hashed with its own random salt. A code is
used up by a conditional UPDATE, so two sign-ins racing with one code cannot both pass.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import delete, func, select, update

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.models import RecoveryCode, User, utcnow

CODES_PER_SET = 10
CODE_LENGTH = 16
GROUP = 4  # shown as xxxx-xxxx-xxxx-xxxx
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def formatted(code: str) -> str:
    """A code in groups of four, as shown to people."""
    return "-".join(code[start:start + GROUP] for start in range(0, len(code), GROUP))


def replace_codes(user: User) -> list[str]:
    """A new set of codes in the session (the old set deleted); the caller commits. Returns them formatted."""
    begin_write()
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_code() for _ in range(CODES_PER_SET)]
    for code in codes:
        salt = secrets.token_hex(16)
        db.session.add(RecoveryCode(user_id=user.id, salt=salt, code_hash=_hash(salt, code)))
    return [formatted(code) for code in codes]


def count_unused(user: User) -> int:
    """How many of the account's recovery codes are still usable."""
    query = select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                                 RecoveryCode.used_at.is_(None))
    return db.session.scalar(query) or 0


def use_code(user: User, code: str) -> bool:
    """Use up one unused code (normalized: no dashes, lowercase); False if none matches."""
    if len(code) != CODE_LENGTH:
        return False
    unused = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                           RecoveryCode.used_at.is_(None))).all()
    match = next((row for row in unused if hmac.compare_digest(row.code_hash, _hash(row.salt, code))), None)
    if match is None:
        return False
    begin_write()
    used = db.session.execute(update(RecoveryCode).where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
                              .values(used_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()
    return used.rowcount == 1
