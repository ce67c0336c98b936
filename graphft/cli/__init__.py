"""The ``graphft`` command.

Examples::

    graphft data fetch                 # Debian-packaged corpora into ~/.cache/graphft (needs apt-get, no root)
    graphft data list                  # every built-in task, where its data comes from, and whether it is here
    graphft demo --steps 100           # the main job: a real multi-task fine-tune of MiniLM-L6
    graphft train run.yaml --set model.training.steps=50      # a run directory from a YAML config
    graphft eval runs/example  |  graphft plot runs/example
    graphft compose runs/example --task hedge --shots 32 --output runs/grown
    graphft export runs/example --task bbc_topic --output exported/bbc_topic
    graphft study --setting small --trials 20                 # Optuna, resumable, multi-worker
    graphft sensitivity hyperparameter environment data       # the three sensitivity analyses
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from graphft.cli.compose import register_compose
from graphft.cli.data import register_data
from graphft.cli.runs import register_runs
from graphft.cli.tuning import register_tuning
from graphft.errors import GraphFTError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``graphft`` command."""
    parser = argparse.ArgumentParser(
        prog="graphft", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for register in (register_data, register_runs, register_compose, register_tuning):
        register(commands)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``graphft`` command; graphft errors print their message (no traceback) and exit with status 2."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passes_through", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.demo_args = extra
    try:
        return int(args.handler(args))
    except GraphFTError as error:
        print(f"graphft {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
