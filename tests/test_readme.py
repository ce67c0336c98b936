"""README stays true: its Python blocks run, and CI runs the test command it gives."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_readme_python_blocks_run() -> None:
    blocks = _blocks("python")
    assert blocks, "README has no Python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})


def test_ci_runs_the_test_command_readme_gives() -> None:
    commands = [line.split("#")[0].strip() for block in _blocks("bash") for line in block.splitlines()]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    ci_command = [line for line in ci_lines if line and not line.startswith(("#", "set ", "cd ", "export "))][-1]
    assert ci_command in commands
    assert "make test" in commands and "make demo" in commands
