"""RunConfig: what ``graphft train`` reads from YAML: the model config, where the data comes from, and the run
directory. Validated like every graphft config; ``--set key=value`` overrides apply to its dotted keys.

Example YAML::

    output_dir: runs/example
    data:
      suite: text-5            # or leave it out and list tasks
      tasks:
        - {name: my_reviews, path: reviews.csv, text_column: body, label_column: verdict}
      max_train: 500
    model:
      num_hidden_layers: 2
      adapter: {num_modules: 4, rank: 4}
      training: {steps: 100, batch_size: 16}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from graphft.config import GraphFTConfig
from graphft.config_base import ConfigBase, config_field
from graphft.errors import ConfigError

__all__ = ["DataConfig", "RunConfig", "TaskSourceConfig", "apply_overrides"]

FORMATS = ("builtin", "csv", "jsonl")


@dataclass
class TaskSourceConfig(ConfigBase):
    """One task: a built-in task (``name`` alone) or a CSV / JSONL file."""

    name: str = config_field("", "Task name (a built-in task's name when no path is given).")
    path: str | None = config_field(None, "CSV or JSONL file of the task; None for a built-in task.")
    format: str = config_field("", "'csv' or 'jsonl' (default: from the file's suffix); 'builtin' without a path.")
    text_column: str = config_field("text", "Column (CSV) or key (JSONL) holding the text.")
    label_column: str = config_field("label", "Column or key holding the label.")
    kind: str = config_field("classification", "'classification' or 'regression'.")
    label_names: list[str] | None = config_field(None, "Class names in id order (default: sorted distinct labels).")
    encoding: str = config_field("utf-8", "Text encoding of the file.")

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("every data.tasks entry needs a name; add `name: <task name>`.")
        if not self.format:
            if self.path is None:
                self.format = "builtin"
            else:
                self.format = "jsonl" if str(self.path).endswith((".jsonl", ".json")) else "csv"
        if self.format not in FORMATS:
            raise ConfigError(f"data.tasks[{self.name}].format must be one of {FORMATS}, got {self.format!r}.")
        if (self.format == "builtin") != (self.path is None):
            raise ConfigError(
                f"data.tasks[{self.name}]: a built-in task takes no path, a csv/jsonl task needs one; "
                f"got format {self.format!r} with path {self.path!r}."
            )


@dataclass
class DataConfig(ConfigBase):
    """Where the tasks come from and how much of each is used."""

    suite: str | None = config_field(None, "A built-in suite ('text-5', 'text-9'); its tasks come first.")
    tasks: list[Any] = config_field([], "More tasks: built-in names or files (see TaskSourceConfig).")
    max_train: int | None = config_field(None, "Cap on training examples per task (None: all).")
    max_eval: int | None = config_field(None, "Cap on validation and test examples per task (None: all).")
    seed: int = config_field(0, "Seed of the train / validation / test split.")
    cache_dir: str | None = config_field(None, "Folder for cached tokenisation (None: no cache).")

    def __post_init__(self) -> None:
        if not isinstance(self.tasks, list):
            raise ConfigError(f"data.tasks must be a list of task entries, got {self.tasks!r}.")
        self.tasks = [task if isinstance(task, TaskSourceConfig) else _task_source(task) for task in self.tasks]
        if self.suite is None and not self.tasks:
            raise ConfigError("data needs a suite or at least one task; set data.suite: text-5 or list data.tasks.")
        for name in ("max_train", "max_eval"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ConfigError(f"data.{name} must be a positive integer or null, got {value!r}.")


def _task_source(entry: Any) -> TaskSourceConfig:
    if isinstance(entry, str):
        return TaskSourceConfig(name=entry)
    if isinstance(entry, dict):
        return TaskSourceConfig.from_dict(entry)
    raise ConfigError(f"a data.tasks entry must be a task name or a mapping, got {entry!r}.")


@dataclass
class RunConfig(ConfigBase):
    """A training run: model, data and output directory."""

    model: GraphFTConfig = config_field(None, "The model and its training loop (GraphFTConfig).")
    data: DataConfig = config_field(None, "The tasks.")
    output_dir: str = config_field("runs/graphft", "Run directory: config, metrics, checkpoints, plots.")

    def __post_init__(self) -> None:
        if self.model is None:
            self.model = GraphFTConfig()
        elif isinstance(self.model, dict):
            self.model = GraphFTConfig.from_dict(self.model)
        if self.data is None:
            self.data = DataConfig(suite="text-5")
        elif isinstance(self.data, dict):
            self.data = DataConfig.from_dict(self.data)
        if not isinstance(self.model, GraphFTConfig) or not isinstance(self.data, DataConfig):
            raise ConfigError("RunConfig.model and RunConfig.data must be mappings.")


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides (dotted keys, YAML values) to a plain config dict, in place.

    Example: ``["model.training.steps=20", "data.suite=text-5"]``.

    Raises:
        ConfigError: an override without '=', or a key path through something that is not a mapping.
    """
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} must look like key=value, e.g. model.training.steps=20.")
        key, raw = override.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {override!r}: the value is not valid YAML ({exc}).") from exc
        node = config
        parts = key.strip().split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"override {override!r}: {where} is a value, not a section; check the key.")
            node = child
        node[parts[-1]] = value
    return config
