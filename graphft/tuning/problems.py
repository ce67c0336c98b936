"""Tuning problems: a pristine backbone, encoded multi-task data and a base config, from which every trial
builds a fresh model.

Three sizes: ``"tiny"`` (a random 2-layer BERT on a planted problem; seconds, for tests), ``"small"`` (MiniLM cut to
2 layers on two real tasks with few steps; minutes on 2 CPU cores) and ``"full"`` (the whole 6-layer MiniLM on
the text-5 suite).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

from transformers import PreTrainedModel

from graphft.backbones import load_backbone, load_tokenizer, tiny_backbone
from graphft.config import AdapterConfig, GraphFTConfig, TrainingConfig
from graphft.descriptors import task_descriptors
from graphft.errors import TuningError
from graphft.model import GraphFTModel
from graphft.tasks.data import MultiTaskData
from graphft.tasks.planted import planted_problem
from graphft.tasks.suites import SUITES, load_suite

__all__ = ["SETTINGS", "Problem", "Setting", "problem_for", "suite_problem", "tiny_problem"]

Setting = Literal["tiny", "small", "full"]
SETTINGS: tuple[str, ...] = ("tiny", "small", "full")
SMALL_TASKS = ("bbc_topic", "tw_airline")


@dataclass
class Problem:
    """A fixed multi-task problem.

    Attributes:
        backbone: the pristine backbone; :meth:`build` adapts a deep copy, never this one.
        data: the encoded tasks.
        base_config: the configuration trials start from.
        name: a short description for result files.
    """

    backbone: PreTrainedModel
    data: MultiTaskData
    base_config: GraphFTConfig
    name: str = ""

    def build(self, config: GraphFTConfig, data: MultiTaskData | None = None) -> GraphFTModel:
        """A fresh model for ``config`` on ``data`` (default: the problem's data), with task descriptors."""
        data = data if data is not None else self.data
        backbone = copy.deepcopy(self.backbone)
        features = task_descriptors(backbone, data, config.graph.descriptor_examples, seed=config.training.seed)
        return GraphFTModel(backbone, data.specs, config, task_features=features)


def tiny_problem(seed: int = 0, steps: int = 20) -> Problem:
    """A random 2-layer BERT (hidden size 32) on a 2 x 2 planted problem: a trial takes well under a second."""
    problem = planted_problem(
        num_clusters=2,
        tasks_per_cluster=2,
        train_examples=96,
        few_shot_examples=24,
        eval_examples=48,
        tokens=8,
        seed=seed,
    )
    config = GraphFTConfig(
        adapter=AdapterConfig(num_modules=4, rank=4),
        training=TrainingConfig(steps=steps, batch_size=16, seed=seed, progress=False),
    )
    config.graph.descriptor_examples = 16
    return Problem(tiny_backbone("bert", seed=seed), problem.data, config, "tiny BERT, planted 2x2")


def suite_problem(
    tasks: tuple[str, ...] = SMALL_TASKS,
    num_hidden_layers: int | None = 2,
    steps: int = 40,
    batch_size: int = 16,
    max_length: int = 32,
    max_train: int | None = 256,
    max_eval: int | None = 96,
    seed: int = 0,
) -> Problem:
    """MiniLM (optionally cut to its first layers) on built-in real tasks (see :mod:`graphft.tasks.suites`)."""
    config = GraphFTConfig(
        backbone="minilm",
        num_hidden_layers=num_hidden_layers,
        adapter=AdapterConfig(num_modules=4, rank=4, target_modules=["query", "value"]),
        training=TrainingConfig(steps=steps, batch_size=batch_size, max_length=max_length, seed=seed, progress=False),
    )
    tokenizer = load_tokenizer(config.backbone)
    data = load_suite(list(tasks), tokenizer, max_length, max_train, max_eval, seed)
    backbone = load_backbone(config.backbone, num_hidden_layers)
    layers = "all" if num_hidden_layers is None else num_hidden_layers
    return Problem(backbone, data, config, f"MiniLM ({layers} layers) on {', '.join(tasks)}, {steps} steps")


def problem_for(setting: Setting, seed: int = 0) -> Problem:
    """The problem of a named setting: ``"tiny"``, ``"small"`` or ``"full"``.

    Raises:
        TuningError: an unknown setting.
    """
    if setting == "tiny":
        return tiny_problem(seed)
    if setting == "small":
        return suite_problem(seed=seed)
    if setting == "full":
        return suite_problem(tuple(SUITES["text-5"]), None, 250, 32, 64, 2000, 300, seed)
    raise TuningError(f"unknown setting {setting!r}; use one of {', '.join(SETTINGS)}.")
