"""Flask-WTF forms of two-factor sign-in: enrolment, the sign-in's code step, new recovery codes, turning it off."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from proxyapp.services.accounts.passwords import MAX_PASSWORD_LENGTH

MAX_CODE_LENGTH = 32  # a recovery code with its dashes and some stray spaces fits


def _code_field(label: str, *, digits_only: bool = False) -> StringField:
    render_kw = {"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
    if digits_only:
        render_kw["inputmode"] = "numeric"
    return StringField(label, validators=[DataRequired(), Length(max=MAX_CODE_LENGTH)], render_kw=render_kw)


def _password_field(label: str = "Your password") -> PasswordField:
    return PasswordField(label, validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                         render_kw={"autocomplete": "current-password"})


class ConfirmPasswordForm(FlaskForm):
    """The password, before a secret is made and shown."""

    password = _password_field()


class EnrolmentCodeForm(FlaskForm):
    """The first code from the app: proof that it holds the secret."""

    code = _code_field("Code from your app", digits_only=True)


class SecondFactorForm(FlaskForm):
    """The sign-in's second step: an app code or a recovery code."""

    code = _code_field("Authentication code")


class RegenerateCodesForm(FlaskForm):
    """The password, or a current code from the app, to replace the recovery codes."""

    password_or_code = PasswordField("Password or a current code from your app",
                                     validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})


class DisableTwoFactorForm(FlaskForm):
    """The password and a code: both factors, to remove one of them."""

    password = _password_field()
    code = _code_field("Code from your app, or a recovery code")
