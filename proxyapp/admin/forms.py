"""Admin forms (CSRF-protected)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from proxyapp.models import User
from proxyapp.services.limits.rules import LIMIT_EXAMPLES, InvalidLimit, parse_limits

MAX_PENDING_CAP = 100_000


class LimitsForm(FlaskForm):
    """An account's rate limit and pending cap; blank means the configured default."""

    rate_limit = StringField("Rate limit", validators=[Optional(), Length(max=64)],
                             render_kw={"placeholder": "default", "autocomplete": "off"})
    max_pending = IntegerField("Pending cap", validators=[Optional(), NumberRange(min=0, max=MAX_PENDING_CAP)],
                               render_kw={"placeholder": "default", "inputmode": "numeric"})

    @classmethod
    def for_user(cls, user: User) -> LimitsForm:
        """The form pre-filled with the account's current overrides."""
        return cls(formdata=None, rate_limit=user.rate_limit, max_pending=user.max_pending)

    def validate_rate_limit(self, field: StringField) -> None:
        """The same notation as RATE_LIMIT, e.g. `100/minute` or `1000/hour;50/minute`."""
        try:
            parse_limits(field.data)
        except InvalidLimit:
            raise ValidationError(f"Write a limit such as {LIMIT_EXAMPLES}.") from None

    def cleaned(self) -> tuple[str | None, int | None]:
        """The values to store: None where the field was left blank."""
        return (self.rate_limit.data or "").strip() or None, self.max_pending.data
