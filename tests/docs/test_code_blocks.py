"""Every example runs: the Python and ``graphft`` blocks of README.md and of every docs page (see
:mod:`tests.docs.blocks` for the rules), and CI runs the test command README gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graphft.cli import main
from tests.docs.blocks import SHELL, code_blocks, graphft_commands, run_page, shell_commands

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUNNABLE = [
    page
    for page in PAGES
    if any(block.language == "python" or graphft_commands(block) for block in code_blocks(page.read_text("utf-8")))
]


@pytest.mark.parametrize("page", RUNNABLE, ids=[str(page.relative_to(ROOT)) for page in RUNNABLE])
def test_page_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GRAPHFT_DATA_DIR", str(tmp_path / "no-debian-data"))  # pages must not need text-9 data
    # One thread: the examples' tensors are small, and on a shared 2-core machine a second OpenMP thread mostly
    # spin-waits (measured: tiny-BERT training ran ~30x slower with 2 threads under load than with 1).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_page(page, tmp_path, main)
    finally:
        torch.set_num_threads(threads)


def test_readme_and_docs_have_runnable_examples() -> None:
    names = {str(page.relative_to(ROOT)) for page in RUNNABLE}
    assert {"README.md", "docs/quickstart.md", "docs/tutorials/cli.md"} <= names


def test_ci_runs_the_test_command_readme_gives() -> None:
    blocks = code_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    shell = [block for block in blocks if block.language in SHELL]
    commands = [command.split("#")[0].strip() for block in shell for command in shell_commands(block.body)]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    ci_command = [line for line in ci_lines if line and not line.startswith(("#", "set ", "cd ", "export "))][-1]
    assert ci_command in commands
    assert "make test" in commands and "make demo" in commands


def test_block_rules() -> None:
    text = (
        '```yaml title="run.yaml"\na: 1\n```\n\n<!-- docs-test: skip downloads -->\n```bash\ngraphft data fetch\n```\n'
        "```bash\ngraphft train run.yaml \\\n  --set a=2  # comment\n```\n```bash\nmake setup\n```\n"
    )
    first, skipped, train, make = code_blocks(text)
    assert (first.title, first.line) == ("run.yaml", 2)
    assert skipped.skip_reason == "downloads"
    assert graphft_commands(train) == [["train", "run.yaml", "--set", "a=2"]]
    assert graphft_commands(make) == []
