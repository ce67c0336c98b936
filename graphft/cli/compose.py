"""``graphft compose`` (a new task joins a trained run) and ``graphft export`` (a task's adapter as PEFT LoRA)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from graphft.errors import CheckpointError

__all__ = ["register_compose"]

RAW = argparse.RawDescriptionHelpFormatter


def _checkpoint_dir(path: str) -> Path:
    """A checkpoint folder, given it or a run directory that holds one in ``checkpoint/``."""
    folder = Path(path)
    if (folder / "checkpoint" / "graphft.json").is_file():
        return folder / "checkpoint"
    if (folder / "graphft.json").is_file():
        return folder
    raise CheckpointError(
        f"{folder} is neither a run directory nor a graphft checkpoint; pass one `graphft train` wrote."
    )


def _compose(args: argparse.Namespace) -> int:
    from graphft.backbones import load_tokenizer
    from graphft.evaluation import evaluate
    from graphft.io_atomic import atomic_write_text
    from graphft.model import GraphFTModel
    from graphft.run_config import TaskSourceConfig
    from graphft.runs import build_task
    from graphft.tasks.data import MultiTaskData

    model = GraphFTModel.from_pretrained(_checkpoint_dir(args.run))
    source = TaskSourceConfig(
        name=args.task, path=args.path, text_column=args.text_column, label_column=args.label_column
    )
    tokenizer = load_tokenizer(model.config.backbone)
    task = build_task(source, tokenizer, model.config.training.max_length, max_train=args.shots, max_eval=args.max_eval)
    added = model.add_task(task.spec, task, share_head_with=args.share_head_with)
    zero_shot = evaluate(model, MultiTaskData([task]), "test")[task.spec.name] if args.share_head_with else None
    losses = model.fit_new_task(task.spec.name, task, steps=args.steps) if args.steps else []
    metrics = evaluate(model, MultiTaskData([task]), "test")[task.spec.name]
    output = Path(args.output)
    model.save_pretrained(output / "checkpoint")
    summary: dict[str, Any] = {
        "task": task.spec.name,
        "examples": len(task.train),
        "fit_steps": args.steps,
        "zero_shot_test": zero_shot,
        "test": metrics,
        "fit_losses": losses,
        "routing_shift": dict(zip(model.task_names, added.routing_shift.tolist(), strict=False)),
    }
    atomic_write_text(output / "compose.json", json.dumps(summary, indent=2, default=float) + "\n")
    print(
        f"{task.spec.name}: test {task.spec.metric} {metrics['metric']:.4f} after {args.steps} steps on "
        f"{len(task.train)} examples; model with {len(model.task_names)} tasks in {output / 'checkpoint'}"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from graphft.model import GraphFTModel

    model = GraphFTModel.from_pretrained(_checkpoint_dir(args.run))
    directory = model.export_peft(args.task, args.output)
    print(
        f"wrote a PEFT LoRA checkpoint of task {args.task!r} to {directory}; load it with "
        "peft.PeftModel.from_pretrained(base_model, directory)"
    )
    return 0


def register_compose(commands: Any) -> None:
    """Add ``compose`` and ``export`` to the command parser."""
    compose = commands.add_parser(
        "compose",
        help="add a new task to a trained run (zero-shot routing from the graph, then a few steps)",
        description="A new task joins a trained model: its descriptor places it in the task graph, the graph prior "
        "routes it, and --steps steps train only its routing logits and head on --shots examples. Writes "
        "OUTPUT/checkpoint and OUTPUT/compose.json.\n\nexamples:\n"
        "  graphft compose runs/example --task hedge --shots 32 --steps 50 --output runs/with-hedge\n"
        "  graphft compose runs/example --task reviews --path reviews.csv --text-column body --output runs/r",
        formatter_class=RAW,
    )
    compose.add_argument("run", help="a run directory (or checkpoint) written by `graphft train`")
    compose.add_argument("--task", required=True, help="the new task: a built-in name, or the name for --path")
    compose.add_argument("--path", default=None, help="CSV or JSONL file of the new task")
    compose.add_argument("--text-column", default="text")
    compose.add_argument("--label-column", default="label")
    compose.add_argument("--shots", type=int, default=32, help="training examples of the new task (default 32)")
    compose.add_argument("--steps", type=int, default=50, help="fit_new_task steps (0: zero-shot only)")
    compose.add_argument("--max-eval", type=int, default=256, help="validation/test examples")
    compose.add_argument("--share-head-with", default=None, help="reuse this known task's head (same labels)")
    compose.add_argument("--output", required=True, help="where the grown model and compose.json go")
    compose.set_defaults(handler=_compose)

    export = commands.add_parser(
        "export",
        help="export a task's composed adapter as a standard PEFT LoRA checkpoint",
        description="Write adapter_config.json + adapter_model.safetensors: the task's active modules "
        "concatenated (rank = active modules x r per layer), exact.\n\n"
        "example: graphft export runs/example --task bbc_topic --output exported/bbc_topic",
        formatter_class=RAW,
    )
    export.add_argument("run", help="a run directory (or checkpoint) written by `graphft train`")
    export.add_argument("--task", required=True, help="the task to export")
    export.add_argument("--output", required=True, help="the PEFT checkpoint directory")
    export.set_defaults(handler=_export)
