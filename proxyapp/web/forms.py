"""Flask-WTF forms (CSRF-protected) for the web pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from proxyapp.services.accounts import username_exists
from proxyapp.services.passwords import MAX_PASSWORD_LENGTH, password_problem

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


class RegistrationForm(FlaskForm):
    """Username and password (twice); email optional."""

    username = StringField(
        "Username",
        validators=[
            DataRequired(),
            Length(min=3, max=32),
            Regexp(USERNAME_PATTERN, message="Use letters, digits, dots, dashes and underscores only."),
        ],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    email = EmailField("Email (optional)", validators=[Optional(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "new-password"})
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
        problem = password_problem(field.data or "", self.username.data or "")
        if problem:
            raise ValidationError(problem)


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "current-password"})


class ConfirmForm(FlaskForm):
    """An empty form: a CSRF token for POST-only actions such as logout."""
