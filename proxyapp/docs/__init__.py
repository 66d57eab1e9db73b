"""/docs: the API reference rendered in the browser from /v1/openapi.json, with no CDN.

Swagger UI's files come from the flask-swagger-ui package and are served by us; its
start-up script is our static file, so the page needs no inline script. /docs/guide renders
docs/api-guide.md from the repository with markdown-it (raw HTML in the file is not passed through).
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, make_response, render_template, send_from_directory
from markdown_it import MarkdownIt
from markupsafe import Markup

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
GUIDE_FILE = Path(__file__).resolve().parents[2] / "docs" / "api-guide.md"
SWAGGER_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})
# Swagger UI styles elements from script at run time, so styles (only) may be inline here.
DOCS_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

bp = Blueprint("docs", __name__, url_prefix="/docs")


def reference() -> Response:
    """The interactive API reference."""
    response = make_response(render_template("docs.html"))
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


def guide() -> Response:
    """The API guide: lifecycle, errors, backoff, webhooks, from docs/api-guide.md."""
    html = MarkdownIt("commonmark", {"html": False}).render(GUIDE_FILE.read_text(encoding="utf-8"))
    return make_response(render_template("docs_guide.html", guide=Markup(html)))


def asset(filename: str) -> Response:
    """One of Swagger UI's files, from the installed package."""
    if filename not in SWAGGER_FILES:
        return make_response(("Not found", 404))
    return send_from_directory(SWAGGER_DIST, filename, max_age=86400)


bp.add_url_rule("", view_func=reference, strict_slashes=False)
bp.add_url_rule("/guide", view_func=guide)
bp.add_url_rule("/assets/<filename>", view_func=asset)
