"""TaskSpec: what a task is (its name, kind, labels and metric), independent of where its data comes from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from graphft.errors import TaskError

__all__ = ["TASK_KINDS", "TaskSpec"]

TASK_KINDS = ("classification", "regression", "causal_lm")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass
class TaskSpec:
    """One task.

    Attributes:
        name: unique name: letters, digits, '_', '-', '.', at most 100 characters (it is used in file names).
        kind: 'classification', 'regression' or 'causal_lm'.
        label_names: class names of a classification task, in label-id order.
        metric: the headline metric ('accuracy', 'macro_f1', 'mse', 'spearman', 'loss').
    """

    name: str
    kind: str = "classification"
    label_names: list[str] = field(default_factory=list)
    metric: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise TaskError(
                f"task name {self.name!r} is not allowed; use letters, digits, '_', '-' or '.' "
                "(starting with a letter or digit, at most 100 characters)."
            )
        if self.kind not in TASK_KINDS:
            raise TaskError(f"task {self.name!r}: kind must be one of {', '.join(TASK_KINDS)}, got {self.kind!r}.")
        if not isinstance(self.label_names, (list, tuple)) or not all(
            isinstance(label, (str, int)) and not isinstance(label, bool) for label in self.label_names
        ):
            raise TaskError(
                f"task {self.name!r}: label_names must be a list of class names (strings), got {self.label_names!r}."
            )
        self.label_names = [str(label) for label in self.label_names]
        if self.kind == "classification":
            if len(self.label_names) < 2:
                raise TaskError(
                    f"task {self.name!r} is a classification task with {len(self.label_names)} class(es); it needs "
                    "at least 2 (a single class cannot be learned), or make it a regression task."
                )
            if len(set(self.label_names)) != len(self.label_names):
                raise TaskError(f"task {self.name!r} has duplicate label names: {self.label_names!r}.")
        elif self.label_names:
            raise TaskError(f"task {self.name!r} of kind {self.kind!r} takes no label_names.")
        if not isinstance(self.metric, str):
            raise TaskError(f"task {self.name!r}: metric must be a string such as 'accuracy', got {self.metric!r}.")
        if not self.metric:
            self.metric = {"classification": "accuracy", "regression": "spearman", "causal_lm": "loss"}[self.kind]
        allowed = {
            "classification": ("accuracy", "macro_f1"),
            "regression": ("mse", "spearman"),
            "causal_lm": ("loss",),
        }[self.kind]
        if self.metric not in allowed:
            raise TaskError(
                f"task {self.name!r}: metric for {self.kind} must be one of {allowed}, got {self.metric!r}."
            )

    @property
    def num_labels(self) -> int:
        """Output width of the task's head: the number of classes, or 1 for regression and causal LM."""
        return len(self.label_names) if self.kind == "classification" else 1

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "label_names": list(self.label_names), "metric": self.metric}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        """Inverse of :meth:`to_dict`.

        Raises:
            TaskError: ``data`` is not a mapping, lacks ``name``, has unknown keys or bad values.
        """
        known = ("name", "kind", "label_names", "metric")
        if not isinstance(data, dict) or "name" not in data:
            raise TaskError(f"a task is a mapping with a 'name' and optionally {', '.join(known[1:])}, got {data!r}.")
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise TaskError(f"task {data['name']!r} has unknown keys {unknown}; known keys: {', '.join(known)}.")
        return cls(**data)
