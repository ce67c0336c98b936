"""Run directories: what ``graphft train``, ``graphft eval`` and ``graphft plot`` read and write.

A run directory holds ``config.yaml`` (the resolved :class:`RunConfig`), ``metrics.jsonl`` (one JSON record per
logged step and per evaluation), ``test_metrics.json``, ``checkpoint/`` (safetensors + JSON) and PNG plots;
TensorBoard event files go to ``tensorboard/`` when the ``tensorboard`` package is installed.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import torch
import yaml

from graphft.backbones import load_backbone, load_tokenizer
from graphft.config_base import read_yaml_mapping
from graphft.descriptors import task_descriptors
from graphft.errors import ConfigError, DataError
from graphft.evaluation import evaluate, majority_baseline
from graphft.io_atomic import atomic_write_text
from graphft.model import GraphFTModel
from graphft.plots import plot_allocations, plot_relation_matrix, plot_training_curves
from graphft.run_config import DataConfig, RunConfig, TaskSourceConfig, apply_overrides
from graphft.tasks.builders import task_from_csv, task_from_jsonl
from graphft.tasks.data import MultiTaskData, TaskData
from graphft.tasks.suites import SUITES, load_task
from graphft.training import TrainResult, train

__all__ = ["build_data", "build_task", "eval_run", "load_run_config", "plot_run", "read_metrics", "train_run"]

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoint"


def load_run_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    """A :class:`RunConfig` from a YAML file (None: the defaults) with ``key=value`` overrides applied.

    Raises:
        ConfigError: a missing or invalid file, an unknown key (with the closest known one), a bad value.
    """
    data = read_yaml_mapping(path) if path is not None else {}
    return RunConfig.from_dict(apply_overrides(data, overrides or []))


def build_data(config: DataConfig, tokenizer: Any, max_length: int) -> MultiTaskData:
    """Load and encode the tasks ``config`` names: the suite's, then the listed ones."""
    names = list(SUITES.get(config.suite, [])) if config.suite else []
    if config.suite and config.suite not in SUITES:
        raise ConfigError(f"data.suite {config.suite!r} is unknown; use one of {', '.join(SUITES)} or null.")
    common: dict[str, Any] = {"max_length": max_length, "max_train": config.max_train, "max_eval": config.max_eval}
    common |= {"seed": config.seed, "cache_dir": config.cache_dir}
    tasks: list[TaskData] = [load_task(name, tokenizer, **common) for name in names]
    tasks += [build_task(source, tokenizer, **common) for source in config.tasks]
    return MultiTaskData(tasks)


def build_task(source: TaskSourceConfig, tokenizer: Any, max_length: int, **options: Any) -> TaskData:
    """Load and encode one task: a built-in one, or a CSV / JSONL file (``options`` go to the splitter)."""
    if source.format == "builtin":
        return load_task(source.name, tokenizer, max_length, **options)
    reader = task_from_csv if source.format == "csv" else task_from_jsonl
    assert source.path is not None  # TaskSourceConfig requires a path for files
    return reader(
        source.path,
        source.name,
        tokenizer,
        text_column=source.text_column,
        label_column=source.label_column,
        encoding=source.encoding,
        kind=source.kind,
        label_names=source.label_names,
        max_length=max_length,
        **options,
    )


def _write_metrics(run_dir: Path, result: TrainResult) -> None:
    records = [{"type": "train", **record} for record in result.history]
    records += [{"type": "validation", **record} for record in result.evaluations]
    atomic_write_text(run_dir / METRICS_FILE, "".join(json.dumps(record) + "\n" for record in records))
    if importlib.util.find_spec("tensorboard") is None:
        return
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(run_dir / "tensorboard")) as writer:
        for record in result.history:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                    writer.add_scalar(f"train/{key}", value, record["step"])
        for record in result.evaluations:
            for task, metrics in record.items():
                if isinstance(metrics, dict):
                    writer.add_scalar(f"validation/{task}", metrics["metric"], record["step"])


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl``."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise DataError(f"{path} is missing; is {run_dir} a run directory written by `graphft train`?")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def train_run(config: RunConfig, threads: int | None = None, resume: bool = False) -> Path:
    """Train the model ``config`` describes and fill its run directory. Returns the run directory.

    With ``model.training.checkpoint_every`` > 0, training checkpoints go to ``<run>/training_checkpoints/``;
    ``resume`` continues from the newest one (bit-identical to an uninterrupted run on CPU).
    """
    if threads:
        torch.set_num_threads(threads)
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(config.to_dict(), sort_keys=False))
    model_config = config.model
    tokenizer = load_tokenizer(model_config.backbone)
    backbone = load_backbone(model_config.backbone, model_config.num_hidden_layers)
    data = build_data(config.data, tokenizer, model_config.training.max_length)
    features = task_descriptors(backbone, data, model_config.graph.descriptor_examples)
    model = GraphFTModel(backbone, data.specs, model_config, task_features=features)
    checkpoints = run_dir / "training_checkpoints" if model_config.training.checkpoint_every or resume else None
    result = train(model, data, checkpoint_dir=checkpoints, resume=resume)
    _write_metrics(run_dir, result)
    model.save_pretrained(run_dir / CHECKPOINT_DIR)
    test = evaluate(model, data, "test")
    summary: dict[str, Any] = {"test": test, "majority_baseline": majority_baseline(data, "test")}
    summary["trainable_parameters"] = model.num_trainable_parameters()
    atomic_write_text(run_dir / "test_metrics.json", json.dumps(summary, indent=2) + "\n")
    plot_run(run_dir, model)
    return run_dir


def _load(run_dir: Path) -> tuple[RunConfig, GraphFTModel]:
    config = load_run_config(run_dir / CONFIG_FILE)
    return config, GraphFTModel.from_pretrained(run_dir / CHECKPOINT_DIR)


def eval_run(run_dir: str | Path, split: str = "test") -> dict[str, Any]:
    """Reload a run's checkpoint and data and evaluate it on ``split``; writes ``<split>_metrics.json``."""
    run_dir = Path(run_dir)
    config, model = _load(run_dir)
    data = build_data(config.data, load_tokenizer(config.model.backbone), config.model.training.max_length)
    metrics = evaluate(model, data, split)
    atomic_write_text(run_dir / f"{split}_metrics.json", json.dumps({"split": split, **metrics}, indent=2) + "\n")
    return metrics


def plot_run(run_dir: str | Path, model: GraphFTModel | None = None) -> list[Path]:
    """Write the relation matrix, allocation heatmaps and training curves of a run as PNG files."""
    run_dir = Path(run_dir)
    if model is None:
        _, model = _load(run_dir)
    paths = [
        plot_relation_matrix(model.relation_matrix(), model.task_names, run_dir / "relation_matrix.png"),
        plot_allocations(model.allocations(), model.task_names, model.layer_names, run_dir / "allocations.png"),
    ]
    if (run_dir / METRICS_FILE).is_file():
        paths.append(plot_training_curves(read_metrics(run_dir), run_dir / "training_curves.png"))
    return paths
