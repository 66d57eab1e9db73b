"""Password hashing (argon2id at ASVS strength) and the password policy."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # long passphrases welcome; only a bound on hashing cost


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)


def hasher() -> PasswordHasher:
    """The argon2id hasher configured for this app."""
    config = current_app.config
    return _hasher(config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_KIB"], config["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    """An argon2id hash of the password with a fresh salt."""
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if the password matches the stored hash."""
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


MIN_PASSWORD_SCORE = 3  # zxcvbn's 0-4 scale: 3 is "safely unguessable" for an online attack
ZXCVBN_MAX_INPUT = 128  # zxcvbn is super-linear in length; the first 128 characters decide


def password_problem(password: str, username: str = "") -> str | None:
    """Why a new password is unacceptable, or None: length, commonness and zxcvbn's score, no composition rules."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if password.lower() in _common_passwords():
        return "This password is too common; choose one that is harder to guess."
    if username and password.lower() == username.lower():
        return "The password must not be the same as the username."
    # zxcvbn weighs the password against the username too (a variation of it guesses fast).
    strength = zxcvbn(password[:ZXCVBN_MAX_INPUT], user_inputs=[username] if username else [])
    if strength["score"] < MIN_PASSWORD_SCORE:
        warning = strength["feedback"].get("warning") or "This password is easy to guess."
        hint = " ".join(strength["feedback"].get("suggestions") or [])
        return f"Too easy to guess: {warning} {hint}".strip()
    return None
