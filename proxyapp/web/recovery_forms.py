"""Forms of account recovery and the account's email (CSRF-protected)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from proxyapp.services.accounts.recovery import MAX_IDENTIFIER_LENGTH
from proxyapp.web.forms import _check_new_password, _current_password_field, _new_password_field

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"  # the shape only; the verification mail proves the rest


class ForgotPasswordForm(FlaskForm):
    """A username or an email address (the field is `username`, so the throttle keys on it)."""

    username = StringField("Username or email", validators=[DataRequired(), Length(max=MAX_IDENTIFIER_LENGTH)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})


class ResetPasswordForm(FlaskForm):
    """The new password twice, scored as at registration against the account's username."""

    new_password = _new_password_field("New password")
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new_password", message="The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(self, username: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.username = username

    def validate_new_password(self, field: PasswordField) -> None:
        """The password policy, as at registration."""
        _check_new_password(field.data, self.username)


class ChangeEmailForm(FlaskForm):
    """The new address and the current password."""

    email = EmailField("New email", validators=[DataRequired(), Length(max=254),
                                                Regexp(EMAIL_PATTERN, message="Enter an address such as name@example.org.")],
                       render_kw={"autocomplete": "email", "spellcheck": "false"})
    current_password = _current_password_field()
