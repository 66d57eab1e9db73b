"""Operations endpoints for load balancers and Prometheus; its routing table.

Never rate-limited (a probe must not be refused because clients are busy) and never cached.
"""

from flask import Blueprint

from proxyapp.extensions import limiter
from proxyapp.ops import views

bp = Blueprint("ops", __name__)
limiter.exempt(bp)
bp.after_request(views.never_cache)

bp.add_url_rule("/healthz", view_func=views.healthz)
bp.add_url_rule("/readyz", view_func=views.readyz)
bp.add_url_rule("/metrics", view_func=views.metrics)
