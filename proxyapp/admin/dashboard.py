"""rq-dashboard: at /admin/rq for administrators, or alone on loopback (see dashboard_server).

rq-dashboard 0.9 is a Flask blueprint configured through `RQ_DASHBOARD_REDIS_URL` and a
module-level serializer setting; both are set here from the app's REDIS_URL and RQ's
JSON serializer. It has no authentication of its own and delete/requeue buttons, so in
the app it sits behind the admin login and CSRF check, and alone it binds 127.0.0.1 only.
In the app each page also opens with a link back to /admin and a note on its "Finished" count.
"""

from __future__ import annotations

from typing import Any

import rq_dashboard
from flask import Flask, Response, current_app, render_template, request
from flask_wtf.csrf import generate_csrf
from rq import Worker
from rq.serializers import JSONSerializer
from werkzeug.exceptions import MethodNotAllowed

from proxyapp.admin.views import require_admin

URL_PREFIX = "/admin/rq"
# Its pages run an inline script and compile templates with `new Function` (underscore.js).
DASHBOARD_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                 "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                 "frame-ancestors 'none'")
CSRF_COOKIE = "_csrf_token"  # dashboard.js copies this cookie into an X-CSRFToken header on its POSTs
GET_THAT_CHANGES_STATE = "rq_dashboard.requeue_all"  # its buttons POST; refusing GET stops link-driven CSRF
BODY_TAG = "<body>"  # every dashboard page has exactly one; the admin bar goes right after it


class JSONWorker(Worker):
    """rq-dashboard 0.9 lists workers without a serializer, so a busy worker's job would be unpickled (500)."""

    @classmethod
    def all(cls, *args: Any, **kwargs: Any) -> list:
        """Every worker, reading their current jobs as JSON."""
        kwargs.setdefault("serializer", JSONSerializer)
        return super().all(*args, **kwargs)


def register_dashboard(app: Flask, redis_url: str, url_prefix: str | None = None) -> None:
    """Register the dashboard on this Redis, reading every job as JSON (RQ's default is pickle)."""
    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url
    rq_dashboard.web.config.serializer = JSONSerializer
    rq_dashboard.web.Worker = JSONWorker
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=url_prefix)
    rq_dashboard.web.setup_rq_connection(app)


def add_dashboard_hooks(app: Flask, before: list, after: list) -> None:
    """Hooks for the dashboard's routes, kept on the app: the blueprint object is shared by every
    app of the process and takes no new hooks once registered."""
    name = rq_dashboard.blueprint.name
    app.before_request_funcs[name] = [*before, *app.before_request_funcs.get(name, [])]
    app.after_request_funcs.setdefault(name, []).extend(after)


def refuse_state_change_by_get() -> None:
    """405 for the one dashboard GET that changes state (requeue all), so a link cannot trigger it."""
    if request.endpoint == GET_THAT_CHANGES_STATE and request.method == "GET":
        raise MethodNotAllowed(valid_methods=["POST"])


def _dashboard_headers(response: Response) -> Response:
    """Its own CSP, and the CSRF token where its script looks for it (pages that rendered only)."""
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    if response.status_code == 200 and response.mimetype == "text/html":
        response.set_cookie(CSRF_COOKIE, generate_csrf(), path=URL_PREFIX, samesite="Strict", httponly=False,
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
        _add_admin_bar(response)
    return response


def _add_admin_bar(response: Response) -> None:
    """Open the page with a link back to /admin and what its "Finished jobs" figure counts.

    rq-dashboard's templates have no block for this, and replacing one of them would mean
    keeping a copy in step with every release; its pages all open `<body>`, so the bar goes there.
    """
    page = response.get_data(as_text=True)
    if BODY_TAG in page:
        response.set_data(page.replace(BODY_TAG, BODY_TAG + render_template("admin/_rq_bar.html"), 1))


def mount_rq_dashboard(app: Flask) -> None:
    """Serve rq-dashboard at /admin/rq to administrators, on the app's Redis."""
    register_dashboard(app, app.config["REDIS_URL"], URL_PREFIX)
    add_dashboard_hooks(app, [require_admin, refuse_state_change_by_get], [_dashboard_headers])
