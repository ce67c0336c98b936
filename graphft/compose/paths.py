"""A task's deterministic path: the gated module weights it uses at inference, per adapted layer.

Axis legend: l target layers, k modules.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphft.model import GraphFTModel

__all__ = ["task_path"]


def task_path(model: GraphFTModel, task: str | int) -> Tensor:
    """The gated module weights task ``task`` uses at inference (the router in evaluation mode).

    Args:
        model: the model.
        task: a task name or id.

    Returns:
        (l, k) weights, one row per adapted layer in ``model.layer_names`` order; each row sums to 1.

    Raises:
        RoutingError: unknown task name or id out of range.
    """
    task_id = model.task_id(task) if isinstance(task, str) else task
    model._check_task_ids(torch.tensor([task_id]))
    return model.allocations()[task_id]
