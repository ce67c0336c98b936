"""Tasks: specifications, encoded data, multi-task sampling, and built-in loaders."""

from graphft.tasks.data import EncodedSplit, MultiTaskData, TaskData
from graphft.tasks.sampling import MultiTaskSampler, task_probabilities
from graphft.tasks.spec import TASK_KINDS, TaskSpec

__all__ = [
    "TASK_KINDS",
    "EncodedSplit",
    "MultiTaskData",
    "MultiTaskSampler",
    "TaskData",
    "TaskSpec",
    "task_probabilities",
]
