"""Matplotlib figures: the relation matrix and the task x module allocations per layer, saved as PNG.

Axis legend: t tasks, l target layers, k modules.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from torch import Tensor

from graphft.io_atomic import atomic_path

__all__ = ["plot_allocations", "plot_relation_matrix", "plot_training_curves"]


def plot_relation_matrix(relation_matrix: Tensor, task_names: list[str], path: str | Path) -> Path:
    """Heatmap of R (t, t) with task names on both axes, written atomically to ``path``."""
    matrix = relation_matrix.detach().float().cpu().numpy()
    size = max(4.0, 0.6 * len(task_names) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(matrix, cmap="viridis")
    axes.set_xticks(range(len(task_names)), task_names, rotation=45, ha="right")
    axes.set_yticks(range(len(task_names)), task_names)
    for i in range(len(task_names)):
        for j in range(len(task_names)):
            axes.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", color="w", fontsize=8)
    axes.set_title("Learned task relation matrix R")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)
    return Path(path)


def plot_allocations(
    allocations: Tensor, task_names: list[str], layer_names: list[str], path: str | Path, max_layers: int = 12
) -> Path:
    """One task x module heatmap per adapted layer (the first ``max_layers``), written atomically."""
    weights = allocations.detach().float().cpu().numpy()
    count = min(len(layer_names), max_layers)
    columns = min(4, count)
    rows = math.ceil(count / columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 0.35 * len(task_names) * rows + 1.5), squeeze=False
    )
    for index in range(rows * columns):
        axes = grid[index // columns][index % columns]
        if index >= count:
            axes.axis("off")
            continue
        axes.imshow(weights[:, index], cmap="magma", vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_title(layer_names[index].removeprefix("encoder.").replace(".attention.self", ""), fontsize=7)
        axes.set_yticks(range(len(task_names)), task_names if index % columns == 0 else [], fontsize=7)
        axes.set_xticks(range(weights.shape[-1]))
        axes.tick_params(axis="x", labelsize=6)
    figure.suptitle("Module weights per task (columns: modules)")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)
    return Path(path)


def plot_training_curves(records: list[dict[str, Any]], path: str | Path) -> Path:
    """Training loss against step (left) and each task's validation metric against step (right), from the
    records of a run's ``metrics.jsonl`` (``type`` 'train' or 'validation'); written atomically."""
    train = [record for record in records if record.get("type", "train") == "train"]
    validation = [record for record in records if record.get("type") == "validation"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        steps = [record["step"] for record in train]
        left.plot(steps, [record["loss"] for record in train], label="loss")
        if "task_loss" in train[0]:
            left.plot(steps, [record["task_loss"] for record in train], label="task loss")
        left.legend()
    left.set_xlabel("step")
    left.set_title("Training loss")
    tasks = [key for key in (validation[0] if validation else {}) if isinstance(validation[0][key], dict)]
    for task in tasks:
        points = [(record["step"], record[task]["metric"]) for record in validation if task in record]
        style = "k--" if task == "average" else "-o"
        right.plot([step for step, _ in points], [value for _, value in points], style, label=task, markersize=3)
    right.set_xlabel("step")
    right.set_title("Validation metric per task")
    if tasks:
        right.legend(fontsize=7, loc="best")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)
    return Path(path)
