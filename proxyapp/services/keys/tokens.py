"""API keys: format, checksum, hashing, issuing and resolving.

A key is `pxk_` + 43 base62 characters from `secrets` (256 bits) + a 6-character
base62 CRC-32 of the random part, so typos and scanners' false positives are rejected
without a database lookup. Only the SHA-256 of the whole key is stored (high-entropy
tokens need no slow hash, ASVS 6.5.2).
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from proxyapp.database import begin_write
from proxyapp.extensions import db
from proxyapp.models import ApiKey, User, utcnow

KEY_PREFIX = "pxk_"
BASE62 = string.digits + string.ascii_letters
RANDOM_LENGTH = 43  # 43 * log2(62) = 256.1 bits
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
DISPLAY_LENGTH = len(KEY_PREFIX) + 8
LAST_USED_RESOLUTION_SECONDS = 60


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode()), CHECKSUM_LENGTH)


def generate_key() -> str:
    """A new random API key in the documented format."""
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return KEY_PREFIX + random_part + _checksum(random_part)


def is_well_formed(key: str) -> bool:
    """True if the key has our prefix, length, alphabet and a matching checksum."""
    if len(key) != KEY_LENGTH or not key.startswith(KEY_PREFIX):
        return False
    body = key[len(KEY_PREFIX):]
    if any(char not in BASE62 for char in body):
        return False
    random_part, checksum = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    return secrets.compare_digest(_checksum(random_part), checksum)


def hash_key(key: str) -> str:
    """The hex SHA-256 under which a key is stored and looked up."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key: the row and the plaintext, which is never stored."""

    api_key: ApiKey
    plaintext: str


def issue_key(user: User, name: str, expires_at: datetime | None = None) -> IssuedKey:
    """Create a key for the user, expiring at `expires_at` if given (added to the session, not committed)."""
    plaintext = generate_key()
    api_key = ApiKey(
        user=user,
        name=name,
        key_hash=hash_key(plaintext),
        display_prefix=plaintext[:DISPLAY_LENGTH],
        expires_at=expires_at,
    )
    db.session.add(api_key)
    return IssuedKey(api_key=api_key, plaintext=plaintext)


def find_key(presented: str) -> ApiKey | None:
    """The stored key matching a presented secret, usable or not, or None (malformed keys cost no query)."""
    if not is_well_formed(presented):
        return None
    # The owner is loaded in the same query: limits and the disabled check need no second one.
    query = select(ApiKey).options(joinedload(ApiKey.user)).where(ApiKey.key_hash == hash_key(presented))
    return db.session.scalar(query)


def find_usable_key(presented: str) -> ApiKey | None:
    """The usable key matching a presented secret, or None."""
    api_key = find_key(presented)
    if api_key is None or not api_key.is_usable():
        return None
    return api_key


def touch_last_used(api_key: ApiKey) -> None:
    """Record use, at most once a minute per key so busy keys do not write on every call."""
    now = utcnow()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        begin_write()
        api_key.last_used_at = now
        db.session.commit()
