"""Flask-WTF forms (CSRF-protected) for the web pages."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, StringField, URLField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from proxyapp.services.accounts.lifecycle import (
    MAX_USERNAME_LENGTH,
    MIN_USERNAME_LENGTH,
    USERNAME_PATTERN,
    normalize_username,
    username_exists,
)
from proxyapp.services.accounts.passwords import MAX_PASSWORD_LENGTH, password_problem
from proxyapp.services.keys.lifecycle import expiry_date_range, expiry_problem
from proxyapp.services.webhooks.outbound import DeliveryRefused, check_url, policy_from_config

# The refusal of a form that asks for the current password (password, email, delete, two-factor).
WRONG_PASSWORD = "The password is wrong."

MAX_KEY_NAME_LENGTH = 64


def _new_password_field(label: str) -> PasswordField:
    return PasswordField(label, validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                         render_kw={"autocomplete": "new-password"})


def _current_password_field(label: str = "Current password") -> PasswordField:
    return PasswordField(label, validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                         render_kw={"autocomplete": "current-password"})


def _check_new_password(password: str, username: str) -> None:
    problem = password_problem(password or "", username or "")
    if problem:
        raise ValidationError(problem)


class RegistrationForm(FlaskForm):
    """Username and password (twice); email optional."""

    username = StringField(
        "Username",
        validators=[
            DataRequired(),
            Length(min=MIN_USERNAME_LENGTH, max=MAX_USERNAME_LENGTH),
            Regexp(USERNAME_PATTERN, message="Use letters, digits, dots, dashes and underscores only."),
        ],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    email = EmailField("Email (optional)", validators=[Optional(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    password = _new_password_field("Password")
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_username(self, field: StringField) -> None:
        """Usernames are unique, case-insensitively."""
        if username_exists(field.data):
            raise ValidationError("This username is taken.")

    def validate_password(self, field: PasswordField) -> None:
        """Length and commonness per the password policy."""
        _check_new_password(field.data, self.username.data)


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "current-password"})


class KeyNameForm(FlaskForm):
    """The name of a new API key, and an optional expiry date."""

    name = StringField("Key name", validators=[DataRequired(), Length(max=MAX_KEY_NAME_LENGTH)],
                       render_kw={"autocomplete": "off", "placeholder": "e.g. production, laptop, ci"})
    expires_on = DateField("Expires on (optional)", validators=[Optional()],
                           invalid_value_message="Enter the date as YYYY-MM-DD, or leave it empty for a key "
                                                 "that does not expire.")

    def validate_expires_on(self, field: DateField) -> None:
        """After today, and at most KEY_MAX_LIFETIME_DAYS ahead (an unreadable date has its error already)."""
        problem = expiry_problem(field.data) if field.data is not None else None
        if problem:
            raise ValidationError(problem)

    @staticmethod
    def expiry_bounds() -> tuple[str, str]:
        """The earliest and latest expiry dates, as the date input's `min` and `max`."""
        earliest, latest = expiry_date_range()
        return earliest.isoformat(), latest.isoformat()


class ChangePasswordForm(FlaskForm):
    """The current password, and the new one twice."""

    current_password = _current_password_field()
    new_password = _new_password_field("New password")
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new_password", message="The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_new_password(self, field: PasswordField) -> None:
        """The password policy, as at registration."""
        _check_new_password(field.data, current_user.username)


class DeleteAccountForm(FlaskForm):
    """The password and the username typed out: deletion cannot be undone."""

    confirm_username = StringField("Type your username to confirm", validators=[DataRequired()],
                                   render_kw={"autocomplete": "off", "autocapitalize": "none",
                                              "spellcheck": "false"})
    password = _current_password_field("Your password")

    def validate_confirm_username(self, field: StringField) -> None:
        """The typed username must be the signed-in one."""
        if normalize_username(field.data or "") != current_user.username:
            raise ValidationError("This is not your username.")


class WebhookTestForm(FlaskForm):
    """The URL that receives a `test` event."""

    url = URLField("Receiver URL", validators=[DataRequired(), Length(max=2048)],
                   render_kw={"autocomplete": "url", "placeholder": "https://example.org/hooks/proxyapp",
                              "inputmode": "url", "spellcheck": "false"})

    def validate_url(self, field: URLField) -> None:
        """The rules a submission's `webhook` follows (https in production, no credentials)."""
        try:
            check_url(field.data or "", policy_from_config(current_app.config))
        except DeliveryRefused as refusal:
            raise ValidationError(f"{str(refusal).capitalize()}.") from None
