"""Two-factor sign-in with TOTP (RFC 6238): enrolment, code checks with replay protection, turning it off.

A code is accepted for the current 30-second step and one step either side (clock drift).
The step it matched is stored, and a code for that step or an earlier one is refused
afterwards: a code seen over someone's shoulder, or replayed from a proxy log, opens nothing.
The secret is encrypted at rest (EncryptedJSON, `flask data reencrypt`).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, or_, update

from proxyapp.database import begin_write
from proxyapp.errors import Conflict, Forbidden
from proxyapp.extensions import db
from proxyapp.models import RecoveryCode, TwoFactor, User, utcnow
from proxyapp.services.accounts.audit import AuditAction, record_event
from proxyapp.services.accounts.lifecycle import WrongPassword
from proxyapp.services.accounts.passwords import verify_password
from proxyapp.services.signin import recovery_codes

ISSUER = "proxyapp"
VALID_WINDOW = 1  # steps accepted either side of the current one
ENROLMENT_LIFETIME = timedelta(minutes=10)  # an unconfirmed secret is shown again only this long
_TOTP_CODE = re.compile(r"^\d{6}$")


class AlreadyEnrolled(Conflict):
    """Enrolment was started for an account that has two-factor sign-in on."""

    description = "Two-factor sign-in is already on."


class CodeRejected(Forbidden):
    """A code is wrong, expired, or was used already."""

    description = "This code is not right, or it was used already."


@dataclass(frozen=True)
class Status:
    """What the account page says about an account's two-factor sign-in."""

    is_enrolled: bool
    enrolled_at: datetime | None
    recovery_codes_left: int
    is_required: bool  # REQUIRE_ADMIN_2FA applies to this account


@dataclass(frozen=True)
class Verified:
    """A second factor that was accepted; after a recovery code, how many are left."""

    by_recovery_code: bool
    recovery_codes_left: int | None


@dataclass(frozen=True)
class Provisioning:
    """What an authenticator app needs: the secret (text), its otpauth URI, and that URI as an SVG QR code."""

    secret: str
    uri: str
    qr_svg: str


def enrolment(user: User) -> TwoFactor | None:
    """The account's two-factor row, confirmed or not."""
    return db.session.get(TwoFactor, user.id)


def is_enrolled(user: User) -> bool:
    """True if two-factor sign-in is on for the account."""
    row = enrolment(user)
    return row is not None and row.confirmed_at is not None


def is_required(user: User) -> bool:
    """True if the operator requires two-factor sign-in of this account (REQUIRE_ADMIN_2FA, admins)."""
    return bool(user.is_admin and current_app.config["REQUIRE_ADMIN_2FA"])


def must_enrol(user: User) -> bool:
    """True if the account may not use the admin pages until it enrols."""
    return is_required(user) and not is_enrolled(user)


def status(user: User) -> Status:
    """The account page's summary."""
    row = enrolment(user)
    enrolled_at = row.confirmed_at if row is not None else None
    left = recovery_codes.count_unused(user) if enrolled_at else 0
    return Status(enrolled_at is not None, enrolled_at, left, is_required(user))


def _check_password(user: User, password: str) -> None:
    if not verify_password(user.password_hash, password or ""):
        raise WrongPassword()


def start_enrolment(user: User, password: str) -> TwoFactor:
    """A new, unconfirmed secret for the account (password required); replaces an unfinished one."""
    _check_password(user, password)
    begin_write()
    row = enrolment(user)
    if row is not None and row.confirmed_at is not None:
        raise AlreadyEnrolled()
    if row is None:
        row = TwoFactor(user_id=user.id, secret=pyotp.random_base32())
        db.session.add(row)
    else:
        row.secret, row.created_at, row.last_step = pyotp.random_base32(), utcnow(), None
    db.session.commit()
    return row


def unfinished_enrolment(user: User, now: datetime | None = None) -> TwoFactor | None:
    """The unconfirmed secret started within ENROLMENT_LIFETIME, if any."""
    row = enrolment(user)
    if row is None or row.confirmed_at is not None or row.created_at < (now or utcnow()) - ENROLMENT_LIFETIME:
        return None
    return row


def provisioning(row: TwoFactor, username: str) -> Provisioning:
    """The secret as text, URI and QR code (SVG made here: the secret never leaves the server)."""
    uri = pyotp.TOTP(row.secret).provisioning_uri(name=username, issuer_name=ISSUER)
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, omitsize=True, dark="#111", light="#fff",
                                                title="QR code of your two-factor secret")
    return Provisioning(row.secret, uri, svg)


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Finish enrolment with a first valid code; returns the new recovery codes (shown once)."""
    row = unfinished_enrolment(user)
    if row is None or not _claim_code(row, code):
        raise CodeRejected()
    begin_write()
    db.session.refresh(row)
    row.confirmed_at = utcnow()
    codes = recovery_codes.replace_codes(user)
    record_event(user, AuditAction.TWO_FACTOR_ENABLED, user)
    db.session.commit()
    return codes


def normalize_code(code: str | None) -> str:
    """A typed code without spaces or dashes, lowercased."""
    return re.sub(r"[\s-]", "", code or "").lower()


def is_totp_shaped(code: str | None) -> bool:
    """True if the input looks like an authenticator code (six digits) rather than a password or recovery code."""
    return bool(_TOTP_CODE.match(normalize_code(code)))


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_code(row: TwoFactor, code: str, now: datetime | None = None) -> bool:
    """Accept a TOTP code once: the step moves forward atomically, so a second use (even concurrent) fails."""
    code = normalize_code(code)
    step = _matching_step(row.secret, code, now or utcnow()) if _TOTP_CODE.match(code) else None
    if step is None:
        return False
    begin_write()
    claimed = db.session.execute(
        update(TwoFactor).where(TwoFactor.user_id == row.user_id,
                                or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step))
        .values(last_step=step).execution_options(synchronize_session=False))
    db.session.commit()
    return claimed.rowcount == 1


def verify_totp(user: User, code: str, now: datetime | None = None) -> bool:
    """True (and the code used up) if the code is a current, unused one of an enrolled account."""
    row = enrolment(user)
    return row is not None and row.confirmed_at is not None and _claim_code(row, code, now)


def verify_second_factor(user: User, code: str) -> Verified | None:
    """Check a sign-in's second factor: an app code, or a recovery code (used up, audited); None if neither."""
    if is_totp_shaped(code):
        return Verified(False, None) if verify_totp(user, code) else None
    if not is_enrolled(user) or not recovery_codes.use_code(user, normalize_code(code)):
        return None
    left = recovery_codes.count_unused(user)
    record_event(user, AuditAction.RECOVERY_CODE_USED, user, {"left": left})
    db.session.commit()
    return Verified(True, left)


def regenerate_recovery_codes(user: User, password_or_code: str) -> list[str]:
    """New recovery codes (the old ones stop working); a current app code or the password confirms it."""
    if is_totp_shaped(password_or_code):
        if not verify_totp(user, password_or_code):
            raise CodeRejected()
    else:
        _check_password(user, password_or_code)
    begin_write()
    codes = recovery_codes.replace_codes(user)
    record_event(user, AuditAction.RECOVERY_CODES_REGENERATED, user)
    db.session.commit()
    return codes


def disable(user: User, password: str, code: str) -> None:
    """Turn two-factor sign-in off: the password and a current code (or a recovery code) required."""
    _check_password(user, password)
    if not verify_second_factor(user, code):
        raise CodeRejected()
    remove(user, actor=user)


def remove(user: User, actor: User | None) -> None:
    """Delete the account's secret and recovery codes (audited); `actor` None is the command line."""
    begin_write()
    db.session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record_event(actor, AuditAction.TWO_FACTOR_DISABLED, user)
    db.session.commit()
