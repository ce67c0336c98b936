"""The graphft exception hierarchy.

Every error graphft raises on bad input derives from :class:`GraphFTError`, and every message names the bad
value and the fix. The subclasses also derive from the built-in exception a caller would expect
(``ValueError``, ``KeyError``, ...), so generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "ExportError",
    "GraphError",
    "GraphFTError",
    "NonFiniteLossError",
    "RoutingError",
    "StudyStorageError",
    "TargetModulesError",
    "TaskError",
    "TuningError",
]


class GraphFTError(Exception):
    """Base class of every error graphft raises on purpose."""


class ConfigError(GraphFTError, ValueError):
    """A configuration value is invalid (wrong type, out of range, unknown key)."""


class TargetModulesError(ConfigError):
    """``target_modules`` matched no layer of the backbone, or matched a layer graphft cannot adapt."""


class AdapterError(GraphFTError, ValueError):
    """The adapter bank was used wrongly: bad module weights, merging twice, removing while merged."""


class RoutingError(GraphFTError, ValueError):
    """The router got bad input: unknown task, task id out of range, bad temperature or threshold."""


class GraphError(GraphFTError, ValueError):
    """A relation matrix or task graph is malformed (not square, negative, NaN, wrong size)."""


class TaskError(GraphFTError, ValueError):
    """A task specification or its data is unusable (empty, one class, unknown name, bad labels)."""


class DataError(TaskError):
    """A data source is missing or unreadable (not fetched, not UTF-8, wrong columns)."""


class CheckpointError(GraphFTError, OSError):
    """A checkpoint is missing, truncated, corrupted, or from another backbone or format version."""


class ExportError(GraphFTError, ValueError):
    """A model cannot be written in the requested foreign format (e.g. PEFT cannot map its adapted layers)."""


class NonFiniteLossError(GraphFTError, FloatingPointError):
    """The training loss became NaN or infinite (the run diverged)."""


class TuningError(ConfigError):
    """A hyperparameter search space or study setting is invalid (unknown parameter, empty range)."""


class StudyStorageError(TuningError):
    """An Optuna study storage cannot be opened (unreachable database, missing driver, unwritable file)."""
