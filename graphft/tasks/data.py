"""Encoded task data: token ids, attention masks and labels per split, and their container over tasks.

Axis legend: m examples, n tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from graphft.errors import TaskError
from graphft.tasks.spec import TaskSpec

__all__ = ["EncodedSplit", "MultiTaskData", "TaskData"]

SPLITS = ("train", "validation", "test")


@dataclass
class EncodedSplit:
    """One split of one task, tokenised and padded to a common length.

    Attributes:
        input_ids: (m, n) token ids.
        attention_mask: (m, n) 1 for real tokens, 0 for padding.
        labels: (m) class ids (long) or targets (float); for causal LM, (m, n) token ids with -100 ignored.
    """

    input_ids: Tensor
    attention_mask: Tensor
    labels: Tensor

    def __post_init__(self) -> None:
        m = self.input_ids.shape[0]
        if self.attention_mask.shape != self.input_ids.shape or self.labels.shape[0] != m:
            raise TaskError(
                f"input_ids {tuple(self.input_ids.shape)}, attention_mask {tuple(self.attention_mask.shape)} and "
                f"labels {tuple(self.labels.shape)} must have the same number of rows (and ids and mask one shape)."
            )

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def subset(self, indices: Tensor) -> EncodedSplit:
        """The rows at ``indices`` (m')."""
        return EncodedSplit(self.input_ids[indices], self.attention_mask[indices], self.labels[indices])


@dataclass
class TaskData:
    """A task and its encoded train / validation / test splits."""

    spec: TaskSpec
    train: EncodedSplit
    validation: EncodedSplit
    test: EncodedSplit

    def __post_init__(self) -> None:
        if len(self.train) == 0:
            raise TaskError(f"task {self.spec.name!r} has no training examples; give it at least one.")
        if self.spec.kind == "classification":
            for split in SPLITS:
                labels = getattr(self, split).labels
                if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.spec.num_labels):
                    raise TaskError(
                        f"task {self.spec.name!r}: {split} labels must lie in [0, {self.spec.num_labels - 1}] "
                        f"(one id per entry of label_names), got values in [{int(labels.min())}, {int(labels.max())}]."
                    )

    def split(self, name: str) -> EncodedSplit:
        if name not in SPLITS:
            raise TaskError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}.")
        split: EncodedSplit = getattr(self, name)
        return split


class MultiTaskData:
    """Several tasks' data, in task-id order.

    Args:
        tasks: the tasks; their names must be unique.
    """

    def __init__(self, tasks: Sequence[TaskData]) -> None:
        if not tasks:
            raise TaskError("MultiTaskData needs at least one task.")
        names = [task.spec.name for task in tasks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise TaskError(f"task names must be unique; repeated: {', '.join(duplicates)}.")
        self.tasks = list(tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index: int) -> TaskData:
        return self.tasks[index]

    @property
    def specs(self) -> list[TaskSpec]:
        return [task.spec for task in self.tasks]

    @property
    def names(self) -> list[str]:
        return [task.spec.name for task in self.tasks]

    def task_id(self, name: str) -> int:
        """The id of the task called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(self.names)}.") from None

    def sizes(self, split: str = "train") -> list[int]:
        return [len(task.split(split)) for task in self.tasks]

    def batch(self, split: str, task_ids: Tensor, indices: Tensor) -> dict[str, Tensor]:
        """Collate examples ``indices[b]`` of tasks ``task_ids[b]``, trimmed to the longest real sequence.

        Shapes:
            - task_ids, indices: (b)
            - returns: input_ids, attention_mask (b, n'); labels (b) or (b, n'); task_ids (b)
        """
        rows = [self.tasks[int(t)].split(split) for t in task_ids.tolist()]
        positions = indices.tolist()
        input_ids = torch.stack([row.input_ids[i] for row, i in zip(rows, positions, strict=True)])
        attention_mask = torch.stack([row.attention_mask[i] for row, i in zip(rows, positions, strict=True)])
        labels = [row.labels[i] for row, i in zip(rows, positions, strict=True)]
        length = max(int(attention_mask.sum(dim=1).max()), 1)
        batch = {
            "input_ids": input_ids[:, :length],
            "attention_mask": attention_mask[:, :length],
            "task_ids": task_ids.clone(),
        }
        if all(label.ndim == 0 for label in labels):
            dtypes = {label.dtype for label in labels}
            batch["labels"] = torch.stack([label.to(torch.float32) if len(dtypes) > 1 else label for label in labels])
        else:
            batch["labels"] = torch.stack(
                [label[:length] if label.ndim else label.expand(length) for label in labels]  # type: ignore[misc]
            )
        return batch
