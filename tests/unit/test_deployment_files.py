"""The Procfile, the container entry point and the Dockerfile agree with each other and with the code."""

from __future__ import annotations

import os
import re

from proxyapp.admin import dashboard_server
from tests.stack import ENTRYPOINT, ROOT


def procfile(name: str = "Procfile") -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def test_procfile_names_every_process_an_operator_runs():
    processes = procfile()
    assert set(processes) == {"release", "web", "worker", "scheduler", "dashboard"}
    assert processes["release"] == "flask --app proxyapp db upgrade"
    assert processes["worker"] == "python -m workers"
    assert processes["scheduler"] == "python -m workers.scheduler"


def test_web_is_waitress_with_tunable_threads_and_the_body_cap():
    web = procfile()["web"]
    assert web.startswith("waitress-serve ") and web.endswith(" wsgi:app")
    assert "--listen=0.0.0.0:${PORT:-8000}" in web
    assert "--threads=${WEB_THREADS:-8}" in web
    assert "--max-request-body-size=${MAX_CONTENT_LENGTH:-1048576}" in web


def test_the_standalone_dashboard_listens_on_loopback_only():
    assert procfile()["dashboard"] == "python -m proxyapp.admin.dashboard_server --port ${DASHBOARD_PORT:-9181}"
    assert dashboard_server.HOST == "127.0.0.1"


def test_development_runs_the_same_worker_and_scheduler_as_production():
    development, production = procfile("Procfile.dev"), procfile()
    for name in ("worker", "scheduler"):
        assert development[name] == production[name], name


def test_the_image_runs_procfile_processes_through_the_entry_point():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile and 'CMD ["web"]' in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert os.access(ENTRYPOINT, os.X_OK)
