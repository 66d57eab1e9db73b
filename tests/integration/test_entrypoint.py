"""The container entry point (deploy/entrypoint.sh), run."""

import subprocess

import pytest

from tests.stack import ENTRYPOINT

pytestmark = pytest.mark.integration


def test_the_entry_point_runs_other_commands_as_given():
    result = subprocess.run([str(ENTRYPOINT), "echo", "as", "given"], capture_output=True, text=True, check=False,
                            timeout=10)
    assert result.returncode == 0 and result.stdout == "as given\n"
