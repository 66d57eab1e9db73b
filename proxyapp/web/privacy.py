"""Who runs the service and what happens to patient data: the privacy page and the operator on every page.

Everything comes from configuration (OPERATOR_NAME, OPERATOR_CONTACT, RESULT_RETENTION_DAYS,
CACHE_TTL), so what the pages promise is what this installation does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template

from config import contact_link


@dataclass(frozen=True)
class Operator:
    """The operator of this installation, as configured (either may be unset, e.g. in development)."""

    name: str | None
    contact: str | None

    @property
    def contact_href(self) -> str | None:
        """A mailto: link for an email address, else the contact URL itself."""
        return contact_link(self.contact) if self.contact else None


def current_operator() -> Operator:
    """The operator named by this app's configuration."""
    return Operator(current_app.config.get("OPERATOR_NAME"), current_app.config.get("OPERATOR_CONTACT"))


def trust_context() -> dict[str, Any]:
    """Template values for every page: the operator and how long inputs and outputs are kept."""
    return {"operator": current_operator(), "retention_days": current_app.config["RESULT_RETENTION_DAYS"]}


def privacy() -> str:
    """Who runs the service, how to reach them, and how patient data is kept, protected and deleted."""
    return render_template("privacy.html", cache_seconds=current_app.config["CACHE_TTL"])
