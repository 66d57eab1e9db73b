"""README.md's walk-through, pasted verbatim into bash against a live stack, so that it cannot rot.

The convention the README follows (and the first test checks):

- every ```sh block runs, in order, in one bash session (`set -e`: a command that fails fails
  the test), from the repository root, with the stack's settings in the environment and
  PROXY pointing at its web process (the README defaults PROXY to `make run`'s);
- the one exception is `make run` itself, the stack this test stands in for: a block whose
  first line is SKIP_MARKER and whose only command is `make run`;
- shell is never fenced as ```bash or ```shell, so that no block escapes by its fence;
- a `#> ` line in a block is what the block prints: it must match a whole line of the
  block's output, `…` matching anything (ids, timestamps, the host).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.stack import ROOT, Stack

pytestmark = pytest.mark.integration
README = ROOT / "README.md"
SKIP_MARKER = "# not run by tests/integration/test_readme.py"
EXPECTED = "#> "
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCK_START = re.compile(r"^@@ README block (\d+) @@$", re.MULTILINE)
END = "@@ README end @@"


@dataclass(frozen=True)
class Block:
    """One fenced block of the README: its fence's language, where it starts and its text."""

    language: str
    line: int
    code: str

    @property
    def is_skipped(self) -> bool:
        """Whether the block carries the marker that keeps it from running."""
        return self.code.startswith(SKIP_MARKER)

    @property
    def commands(self) -> list[str]:
        """The lines that are neither blank nor comments."""
        return [line for line in self.code.splitlines() if line.strip() and not line.lstrip().startswith("#")]

    @property
    def expected(self) -> list[str]:
        """The `#> ` lines: what the block prints."""
        return [line[len(EXPECTED):] for line in self.code.splitlines() if line.startswith(EXPECTED)]


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of a Markdown text, in order."""
    return [Block(match.group(1), text.count("\n", 0, match.start()) + 1, match.group(2))
            for match in FENCE.finditer(text)]


def shell_blocks() -> list[Block]:
    """The README's ```sh blocks that run."""
    return [block for block in fenced_blocks(README.read_text()) if block.language == "sh" and not block.is_skipped]


def line_pattern(expected: str) -> re.Pattern[str]:
    """A whole output line as a `#> ` line describes it, `…` matching anything."""
    return re.compile(".*".join(re.escape(part) for part in expected.split("…")))


def script(blocks: list[Block]) -> str:
    """The blocks as one bash script, each announced by a marker line on the output."""
    parts = ["set -e\n"]
    for index, block in enumerate(blocks):
        parts.append(f"printf '\\n%s\\n' '@@ README block {index} @@'\n{block.code}")
    parts.append(f"printf '\\n%s\\n' '{END}'\n")
    return "".join(parts)


def outputs_by_block(output: str) -> dict[int, str]:
    """What each block printed, by its index, from the marker lines."""
    marks = list(BLOCK_START.finditer(output))
    ends = [mark.start() for mark in marks[1:]] + [output.find(END) if END in output else len(output)]
    return {int(mark.group(1)): output[mark.end():end] for mark, end in zip(marks, ends, strict=True)}


def run_bash(text: str, env: dict[str, str], timeout: float = 60.0) -> tuple[int, str]:
    """Run a script with bash from the repository root; its exit status and everything it printed."""
    process = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", text], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the session bash leads: bash and the curl it waits on
        output, _ = process.communicate()
        pytest.fail(f"the README's blocks did not finish within {timeout} s:\n{output}")
    return process.returncode, output


@pytest.fixture(scope="module")
def make_run_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    """`make run`'s stack, smaller: web started the Procfile way, one worker, the simulator, SQLite and Redis."""
    with Stack(Path(tmp_path_factory.mktemp("readme")), redis_url, use_procfile_web=True, workers=1,
               scheduler=False) as running:
        yield running


def test_the_readme_follows_the_convention():
    blocks = fenced_blocks(README.read_text())
    assert not [block.line for block in blocks if block.language in {"bash", "shell", "console", "zsh"}]
    skipped = [block for block in blocks if block.language == "sh" and block.is_skipped]
    assert [block.commands for block in skipped] == [["make run"]]
    assert len(shell_blocks()) >= 5, "the walk-through is missing"
    assert not re.search(r"(?<![\w/.-])flask --app", README.read_text()), "use .venv/bin/flask: a global flask fails"


def test_the_walkthrough_works_when_pasted(make_run_stack: Stack, tmp_path: Path):
    blocks = shell_blocks()
    env = {**make_run_stack.env, "PROXY": make_run_stack.base_url, "TMPDIR": str(tmp_path)}
    env.pop("BASH_ENV", None)
    status, output = run_bash(script(blocks), env)
    printed = outputs_by_block(output)
    failed = max(printed, default=0)
    assert status == 0 and END in output, (
        f"README.md's block at line {blocks[failed].line} failed (exit {status}):\n"
        f"{blocks[failed].code}\n-- it printed:\n{printed.get(failed, output)}\n-- the stack:\n{make_run_stack.logs()[-3000:]}"
    )
    for index, block in enumerate(blocks):
        lines = [line.rstrip() for line in printed[index].splitlines()]
        for expected in block.expected:
            assert any(line_pattern(expected).fullmatch(line) for line in lines), (
                f"README.md's block at line {block.line} should print {expected!r}; it printed:\n{printed[index]}"
            )
