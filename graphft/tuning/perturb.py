"""Controlled damage to training data, for data-sensitivity studies: fewer examples, noisy labels, imbalance.

Only the train split changes; validation and test stay clean, so metrics measure what the damage does to
learning. Every transform is deterministic under its seed. Axis legend: m examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from graphft.errors import TuningError
from graphft.tasks.data import EncodedSplit, MultiTaskData, TaskData

__all__ = ["add_label_noise", "imbalance_classes", "subsample_train"]


def _map_train(
    data: MultiTaskData, transform: Callable[[TaskData, torch.Generator], EncodedSplit], seed: int
) -> MultiTaskData:
    tasks = []
    for index, task in enumerate(data.tasks):
        generator = torch.Generator().manual_seed(seed * 1009 + index)
        tasks.append(TaskData(task.spec, transform(task, generator), task.validation, task.test))
    return MultiTaskData(tasks)


def subsample_train(data: MultiTaskData, fraction: float, seed: int = 0) -> MultiTaskData:
    """Keep a random ``fraction`` of each task's training examples (at least one), in their original order, so
    ``fraction=1`` returns the data unchanged.

    Raises:
        TuningError: ``fraction`` outside (0, 1].
    """
    if not 0.0 < fraction <= 1.0:
        raise TuningError(f"train fraction must lie in (0, 1], got {fraction!r}.")

    def keep(task: TaskData, generator: torch.Generator) -> EncodedSplit:
        count = max(1, round(fraction * len(task.train)))
        kept = torch.randperm(len(task.train), generator=generator)[:count].sort().values  # keep the order
        return task.train.subset(kept)

    return _map_train(data, keep, seed)


def add_label_noise(data: MultiTaskData, rate: float, seed: int = 0) -> MultiTaskData:
    """Give ``round(rate * m)`` training examples of each classification task a wrong label, uniformly drawn
    among the other classes. Other task kinds are unchanged.

    Raises:
        TuningError: ``rate`` outside [0, 1].
    """
    if not 0.0 <= rate <= 1.0:
        raise TuningError(f"label-noise rate must lie in [0, 1], got {rate!r}.")

    def corrupt(task: TaskData, generator: torch.Generator) -> EncodedSplit:
        if task.spec.kind != "classification":
            return task.train
        labels = task.train.labels.clone()
        chosen = torch.randperm(len(labels), generator=generator)[: round(rate * len(labels))]
        offsets = torch.randint(1, task.spec.num_labels, (len(chosen),), generator=generator)
        labels[chosen] = (labels[chosen] + offsets) % task.spec.num_labels
        return EncodedSplit(task.train.input_ids, task.train.attention_mask, labels)

    return _map_train(data, corrupt, seed)


def imbalance_classes(data: MultiTaskData, imbalance: float, seed: int = 0) -> MultiTaskData:
    """Keep every training example of each classification task's most frequent class and a ``1 - imbalance``
    fraction (at least one) of every other class.

    Raises:
        TuningError: ``imbalance`` outside [0, 1).
    """
    if not 0.0 <= imbalance < 1.0:
        raise TuningError(f"class imbalance must lie in [0, 1), got {imbalance!r}.")

    def skew(task: TaskData, generator: torch.Generator) -> EncodedSplit:
        if task.spec.kind != "classification":
            return task.train
        labels = task.train.labels.long()
        majority = int(torch.bincount(labels).argmax())
        kept = []
        for label in labels.unique().tolist():
            rows = (labels == label).nonzero().flatten()
            rows = rows[torch.randperm(len(rows), generator=generator)]
            count = len(rows) if label == majority else max(1, math.ceil((1.0 - imbalance) * len(rows)))
            kept.append(rows[:count])
        return task.train.subset(torch.cat(kept).sort().values)

    return _map_train(data, skew, seed)
