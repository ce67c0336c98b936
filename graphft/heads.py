"""Per-task output heads, stored as one stacked tensor so a mixed-task batch needs no loop over tasks.

Axis legend: b batch, t tasks, c classes (padded to the largest task), h hidden features.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from einops import einsum
from torch import Tensor, nn

from graphft.tasks.spec import TaskSpec

__all__ = ["TaskHeads", "masked_mean_pool"]


def masked_mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean of the hidden states over real tokens.

    Shapes:
        - hidden: (b, n, h); attention_mask: (b, n)
        - returns: (b, h)
    """
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)


class TaskHeads(nn.Module):
    """One linear head per task: :math:`y_b = W_{t_b} p_b + c_{t_b}`, classes beyond a task's count masked.

    Args:
        hidden_size: h.
        tasks: the task specs, in task-id order.

    Shapes:
        - pooled: (b, h); task_ids: (b)
        - returns: (b, c) logits; entries beyond a task's classes are -inf (regression uses column 0)
    """

    valid: Tensor

    def __init__(self, hidden_size: int, tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        width = max(task.num_labels for task in tasks)
        bound = 1.0 / math.sqrt(hidden_size)
        self.weight = nn.Parameter(torch.empty(len(tasks), width, hidden_size).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(len(tasks), width))
        valid = torch.zeros(len(tasks), width, dtype=torch.bool)
        for index, task in enumerate(tasks):
            valid[index, : task.num_labels] = True
        self.register_buffer("valid", valid)

    def forward(self, pooled: Tensor, task_ids: Tensor) -> Tensor:
        weight = self.weight[task_ids].to(pooled.dtype)
        logits = einsum(pooled, weight, "b h, b c h -> b c") + self.bias[task_ids].to(pooled.dtype)
        return logits.masked_fill(~self.valid[task_ids], float("-inf"))
