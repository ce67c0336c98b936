"""Regenerate the figures of docs/tutorials/reading-plots.md by running that page's own code.

Run from the repository root: ``python -m tools.docs_figures``. The page's code blocks run (as in the test
suite) in a temporary folder; the PNGs they write are copied to ``docs/assets/reading-plots/``. Commit them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "tutorials" / "reading-plots.md"
TARGET = ROOT / "docs" / "assets" / "reading-plots"
FIGURES = ("relation_matrix.png", "allocations.png", "training_curves.png")


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from graphft.cli import main as cli
    from tests.docs.blocks import run_page

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)  # the same setting as the docs test, so the figures match what the test computes
    TARGET.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        run_page(PAGE, Path(folder), cli)
        for name in FIGURES:
            shutil.copyfile(Path(folder) / name, TARGET / name)
            print(TARGET / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
