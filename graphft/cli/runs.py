"""``graphft train``, ``graphft eval``, ``graphft plot`` and ``graphft demo``: run directories."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["register_runs"]

RAW = argparse.RawDescriptionHelpFormatter


def _train(args: argparse.Namespace) -> int:
    from graphft.runs import load_run_config, train_run

    overrides = list(args.set or [])
    if args.output:
        overrides.append(f"output_dir={args.output}")
    config = load_run_config(args.config, overrides)
    if args.dry_run:
        print(json.dumps(config.to_dict(), indent=2))
        return 0
    run_dir = train_run(config, threads=args.threads, resume=args.resume)
    test = json.loads((run_dir / "test_metrics.json").read_text())["test"]
    print(f"test average metric {test['average']['metric']:.4f}; run directory: {run_dir}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from graphft.runs import eval_run

    metrics = eval_run(args.run_dir, args.split)
    for task, values in metrics.items():
        print(f"{task:<20}{values['metric']:.4f}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from graphft.runs import plot_run

    for path in plot_run(args.run_dir):
        print(path)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from graphft.demo import main as demo_main

    demo_main(args.demo_args)
    return 0


def register_runs(commands: Any) -> None:
    """Add ``train``, ``eval``, ``plot`` and ``demo`` to the command parser."""
    train = commands.add_parser(
        "train",
        help="train a model from a YAML config into a run directory",
        description="Train the model a YAML RunConfig describes (model:, data:, output_dir:) and write its run "
        "directory: config.yaml, metrics.jsonl, test_metrics.json, checkpoint/, PNG plots (and tensorboard/ when "
        "tensorboard is installed).\n\nexamples:\n  graphft train run.yaml\n"
        "  graphft train run.yaml --set model.training.steps=50 --set data.max_train=200\n"
        "  graphft train --set data.suite=text-5 --output runs/text5   # defaults, no file\n"
        "  graphft train run.yaml --set model.training.checkpoint_every=50 --resume   # rerun after a crash",
        formatter_class=RAW,
    )
    train.add_argument("config", nargs="?", default=None, help="YAML run config (default: all defaults)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a dotted key (repeatable)")
    train.add_argument("--output", default=None, help="run directory (overrides output_dir)")
    train.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    train.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from the run's newest training checkpoint (set model.training.checkpoint_every to write them)",
    )
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "eval",
        help="evaluate a run's checkpoint on a split",
        description="Reload a run's checkpoint and data, evaluate on a split, write <split>_metrics.json.\n\n"
        "example: graphft eval runs/example --split validation",
        formatter_class=RAW,
    )
    evaluate.add_argument("run_dir", help="a run directory written by `graphft train`")
    evaluate.add_argument("--split", default="test", choices=["train", "validation", "test"])
    evaluate.set_defaults(handler=_eval)

    plot = commands.add_parser(
        "plot",
        help="plot a run: relation matrix, allocations, training curves",
        description="Write relation_matrix.png, allocations.png and training_curves.png into a run directory.\n\n"
        "example: graphft plot runs/example",
        formatter_class=RAW,
    )
    plot.add_argument("run_dir", help="a run directory written by `graphft train`")
    plot.set_defaults(handler=_plot)

    demo = commands.add_parser(
        "demo",
        add_help=False,  # --help goes to the demo's own parser
        help="run the main job (a real multi-task fine-tune of MiniLM-L6)",
        description="Run the main job; its options (--steps, --output, --suite, --layers, ...) follow `demo`.",
    )
    demo.set_defaults(handler=_demo, passes_through=True)
