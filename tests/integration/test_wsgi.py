"""`import wsgi` (what waitress serves) refuses a bad production configuration with one line naming it."""

import subprocess
import sys

import pytest

from tests.conftest import MAIL, PRODUCTION
from tests.stack import ROOT

pytestmark = pytest.mark.integration


def test_production_start_refuses_with_one_line_naming_the_variable(tmp_path):
    env = {key: value for key, value in PRODUCTION.items() if key != "UPSTREAM_API_KEY"}
    env.update({"PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)})
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == ["proxyapp: configuration error: UPSTREAM_API_KEY is required in production"]


def test_production_start_refuses_a_bad_smtp_url_with_one_line(tmp_path):
    env = {**PRODUCTION, **MAIL, "SMTP_URL": "smtp+ssl://me:hunter2@mail.example.org",
           "PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode != 0 and "hunter2" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("proxyapp: configuration error: SMTP_URL must look like smtps://")
