"""Temperature-based multi-task sampling: p_t proportional to n_t^(1/T), mixed-task batches.

Axis legend: b batch, t tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from graphft.errors import TaskError

__all__ = ["MultiTaskSampler", "task_probabilities"]


def task_probabilities(sizes: Sequence[int], temperature: float) -> Tensor:
    """:math:`p_t = n_t^{1/T} / \\sum_u n_u^{1/T}`; T=1 samples by size, large T uniformly. Shape (t)."""
    if temperature <= 0:
        raise TaskError(f"the task sampling temperature must be positive, got {temperature!r}.")
    counts = torch.tensor([float(size) for size in sizes])
    if bool((counts <= 0).any()):
        empty = [i for i, size in enumerate(sizes) if size <= 0]
        raise TaskError(f"tasks {empty} have no training examples; remove them or give them data.")
    weights = counts.pow(1.0 / temperature)
    return weights / weights.sum()


class MultiTaskSampler:
    """Draws mixed-task batches: each example's task from p_t, then the next example of that task's shuffled
    order (each task cycles through its examples epoch by epoch).

    Deterministic given the seed; :meth:`state_dict` / :meth:`load_state_dict` capture the exact position.
    """

    def __init__(self, sizes: Sequence[int], batch_size: int, temperature: float, seed: int = 0) -> None:
        self.sizes = list(sizes)
        self.batch_size = batch_size
        self.probabilities = task_probabilities(self.sizes, temperature)
        self.generator = torch.Generator().manual_seed(seed)
        self.orders = [torch.randperm(size, generator=self.generator) for size in self.sizes]
        self.cursors = [0] * len(self.sizes)

    def next_batch(self) -> tuple[Tensor, Tensor]:
        """(task_ids, example indices), each (b)."""
        task_ids = torch.multinomial(self.probabilities, self.batch_size, replacement=True, generator=self.generator)
        indices = torch.empty(self.batch_size, dtype=torch.long)
        for position, task in enumerate(task_ids.tolist()):
            if self.cursors[task] >= self.sizes[task]:
                self.orders[task] = torch.randperm(self.sizes[task], generator=self.generator)
                self.cursors[task] = 0
            indices[position] = self.orders[task][self.cursors[task]]
            self.cursors[task] += 1
        return task_ids, indices

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "orders": [order.clone() for order in self.orders],
            "cursors": list(self.cursors),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.orders = [order.clone() for order in state["orders"]]
        self.cursors = list(state["cursors"])
