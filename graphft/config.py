"""graphft's configuration dataclasses, validated when built.

Every field has a type, a default and a help text; ``__post_init__`` rejects bad values with a message that
names the value and the fix, so errors surface when the model is built rather than mid-training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from graphft.config_base import ConfigBase, config_field
from graphft.errors import ConfigError

__all__ = [
    "AdapterConfig",
    "GraphConfig",
    "GraphFTConfig",
    "RegularisationConfig",
    "RouterConfig",
    "TrainingConfig",
]


def _check_range(owner: str, name: str, value: object, low: float, high: float | None, closed_high: bool) -> None:
    ok = _is_number(value) and value >= low  # type: ignore[operator]
    if ok and high is not None:
        ok = value <= high if closed_high else value < high  # type: ignore[operator]
    if not ok:
        upper = "" if high is None else (f", {high}]" if closed_high else f", {high})")
        interval = f"[{low}{upper or ', inf)'}"
        raise ConfigError(f"{owner}.{name} must lie in {interval}, got {value!r}.")


def _is_number(value: object) -> bool:
    """A finite real number (bool, NaN and inf are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive_number(owner: str, name: str, value: object) -> None:
    if not _is_number(value) or value <= 0:  # type: ignore[operator]
        raise ConfigError(f"{owner}.{name} must be a positive finite number, got {value!r}.")


def _check_non_negative_int(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{owner}.{name} must be a non-negative integer, got {value!r}; use 0 or more.")


def _check_bool(owner: str, name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{owner}.{name} must be True or False, got {value!r}.")


def _check_choice(owner: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{owner}.{name} must be one of {', '.join(map(repr, choices))}, got {value!r}.")


def _check_positive_int(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{owner}.{name} must be a positive integer, got {value!r}; set it to 1 or more.")


@dataclass
class AdapterConfig(ConfigBase):
    """The low-rank module bank injected into each target layer.

    Each target layer gets ``num_modules`` low-rank modules ``B_k A_k`` of rank ``rank``; the layer computes
    ``y = W x + (alpha / rank) * sum_k w_k B_k A_k dropout(x)``.
    """

    num_modules: int = config_field(8, "K, the number of low-rank modules in each target layer's bank.")
    rank: int = config_field(8, "r, the rank of each module.")
    alpha: float = config_field(16.0, "Scaling numerator: module outputs are multiplied by alpha / rank.")
    dropout: float = config_field(0.0, "Dropout probability on the adapter input (0 disables it).")
    target_modules: str | list[str] = config_field(
        "all-linear",
        "Layers to adapt: a list of module names (a name matches itself and any name ending in '.name'), "
        "a regular expression matched against full module names, or 'all-linear'.",
    )

    def __post_init__(self) -> None:
        _check_positive_int("AdapterConfig", "num_modules", self.num_modules)
        _check_positive_int("AdapterConfig", "rank", self.rank)
        _check_positive_number("AdapterConfig", "alpha", self.alpha)
        _check_range("AdapterConfig", "dropout", self.dropout, 0.0, 1.0, closed_high=False)
        targets = self.target_modules
        if isinstance(targets, str):
            if not targets:
                raise ConfigError("AdapterConfig.target_modules is empty; use 'all-linear' or list layer names.")
        elif isinstance(targets, (list, tuple)):
            if not targets or not all(isinstance(t, str) and t for t in targets):
                raise ConfigError(
                    f"AdapterConfig.target_modules must be a non-empty list of layer names, got {targets!r}."
                )
            self.target_modules = list(targets)
        else:
            raise ConfigError(f"AdapterConfig.target_modules must be a string or a list of strings, got {targets!r}.")


@dataclass
class RouterConfig(ConfigBase):
    """The differentiable path router: per task and target layer, weights over the K modules.

    logits = free task logits + prior_strength * prior logits (from the task graph); training samples relaxed
    weights at ``routing_temperature`` (annealed to ``min_temperature``); evaluation is deterministic. Weights
    below ``gating_threshold`` are zeroed (the path becomes sparse) and the rest renormalised.
    """

    routing_temperature: float = config_field(1.0, "tau, the temperature of the relaxed routing distribution.")
    min_temperature: float = config_field(0.3, "The temperature the annealing schedule ends at.")
    anneal: str = config_field("exponential", "Temperature schedule over training: 'exponential', 'linear' or 'none'.")
    relaxation: str = config_field(
        "gumbel_softmax",
        "Training-time sampling: 'gumbel_softmax' (weights sum to 1), 'relaxed_bernoulli' (independent gates, "
        "normalised), or 'softmax' (no noise).",
    )
    gating_threshold: float = config_field(0.05, "gamma in [0, 1): weights below it are zeroed (sparse paths).")
    top_k: int | None = config_field(None, "Keep at most this many modules per task and layer (None: no limit).")
    straight_through: bool = config_field(
        True, "Gate with a straight-through estimator (forward hard, backward soft); else gated weights only."
    )
    prior_strength: float = config_field(1.0, "Weight of the graph prior logits added to the free task logits.")
    neighbour_prior: bool = config_field(
        False,
        "Also add R-weighted averages of related tasks' free logits to the prior. Off by default: on text-9 it "
        "pulled weakly related tasks onto other tasks' paths (benchmarks/results/peers.md).",
    )
    neighbour_normalisation: str = config_field(
        "row",
        "How the neighbour prior weighs related tasks: 'row' divides each row of R by its sum (a weighted average); "
        "'capped' divides only rows summing to more than 1, so a task with weak relations gets a weak pull.",
    )
    prior_hidden_dim: int = config_field(64, "Hidden width of the MLP mapping node embeddings to prior logits.")

    def __post_init__(self) -> None:
        owner = "RouterConfig"
        _check_positive_number(owner, "routing_temperature", self.routing_temperature)
        _check_positive_number(owner, "min_temperature", self.min_temperature)
        if self.min_temperature > self.routing_temperature:
            raise ConfigError(
                f"{owner}.min_temperature ({self.min_temperature}) exceeds routing_temperature "
                f"({self.routing_temperature}); annealing only lowers the temperature."
            )
        _check_choice(owner, "anneal", self.anneal, ("exponential", "linear", "none"))
        _check_choice(owner, "relaxation", self.relaxation, ("gumbel_softmax", "relaxed_bernoulli", "softmax"))
        _check_range(owner, "gating_threshold", self.gating_threshold, 0.0, 1.0, closed_high=False)
        if self.top_k is not None:
            _check_positive_int(owner, "top_k", self.top_k)
        _check_range(owner, "prior_strength", self.prior_strength, 0.0, None, closed_high=False)
        _check_positive_int(owner, "prior_hidden_dim", self.prior_hidden_dim)
        _check_bool(owner, "straight_through", self.straight_through)
        _check_bool(owner, "neighbour_prior", self.neighbour_prior)
        _check_choice(owner, "neighbour_normalisation", self.neighbour_normalisation, ("row", "capped"))


@dataclass
class GraphConfig(ConfigBase):
    """The task graph learner (package ``graph_learners``) and its relation-matrix regularisers."""

    learner: str = config_field(
        "structure", "'structure' learns R; 'fixed' uses prior_relation_matrix as R; 'none' uses no graph prior."
    )
    embedding_dim: int = config_field(32, "d, the width of task node embeddings.")
    conv: str = config_field("gcn", "PyG convolution for message passing: 'gcn', 'gatv2' or 'transformer'.")
    num_layers: int = config_field(2, "Number of message-passing layers.")
    top_k: int | None = config_field(None, "Keep the k strongest relations per task (None keeps all).")
    symmetric: bool = config_field(True, "Symmetrise the learned relation matrix.")
    relation_temperature: float = config_field(0.5, "Temperature of the row softmax over edge scores.")
    prior_relation_matrix: list[list[float]] | None = config_field(
        None, "Optional user prior R0 (t x t, non-negative), in task order."
    )
    prior_weight: float = config_field(1.0, "How strongly R0 biases the learned edge scores.")
    descriptor_examples: int = config_field(64, "Examples per task used to compute its descriptor.")

    def __post_init__(self) -> None:
        owner = "GraphConfig"
        _check_choice(owner, "learner", self.learner, ("structure", "fixed", "none"))
        _check_choice(owner, "conv", self.conv, ("gcn", "gatv2", "transformer"))
        _check_positive_int(owner, "embedding_dim", self.embedding_dim)
        _check_positive_int(owner, "num_layers", self.num_layers)
        _check_positive_int(owner, "descriptor_examples", self.descriptor_examples)
        if self.top_k is not None:
            _check_positive_int(owner, "top_k", self.top_k)
        _check_positive_number(owner, "relation_temperature", self.relation_temperature)
        _check_range(owner, "prior_weight", self.prior_weight, 0.0, None, closed_high=False)
        _check_bool(owner, "symmetric", self.symmetric)
        matrix = self.prior_relation_matrix
        if matrix is not None:
            rows = matrix if isinstance(matrix, (list, tuple)) else None
            if (
                not rows
                or not all(isinstance(row, (list, tuple)) and len(row) == len(rows[0]) for row in rows)
                or not all(_is_number(value) for row in rows for value in row)
            ):
                raise ConfigError(
                    f"{owner}.prior_relation_matrix must be a list of equally long lists of finite numbers (t x t, "
                    f"in task order), got {matrix!r}."
                )
        if self.learner == "fixed" and self.prior_relation_matrix is None:
            raise ConfigError(
                "GraphConfig.learner='fixed' needs prior_relation_matrix (the fixed R); give one, or use "
                "learner='structure'."
            )


@dataclass
class RegularisationConfig(ConfigBase):
    """Strengths of the regularisers added to the task loss (0 disables a term)."""

    relation: float = config_field(0.1, "lambda_R: smoothness sum_ij R_ij ||W_i - W_j||^2 (related tasks share paths).")
    balance: float = config_field(0.01, "Load balance over modules (no module collapse).")
    relation_sparsity: float = config_field(0.0, "Sparsity of the learned R (mean off-diagonal entry).")
    relation_prior: float = config_field(0.1, "Closeness of the learned R to the user's prior R0.")
    relation_collapse: float = config_field(0.01, "Penalty on uniform rows of R (keeps relations informative).")

    def __post_init__(self) -> None:
        for name in ("relation", "balance", "relation_sparsity", "relation_prior", "relation_collapse"):
            _check_range("RegularisationConfig", name, getattr(self, name), 0.0, None, closed_high=False)


@dataclass
class TrainingConfig(ConfigBase):
    """The multi-task training loop."""

    steps: int = config_field(300, "Optimizer steps.")
    batch_size: int = config_field(32, "Examples per batch (mixed across tasks).")
    max_length: int = config_field(64, "Tokens per example after truncation.")
    lr_adapters: float = config_field(2e-3, "Learning rate of the adapter modules.")
    lr_router: float = config_field(1e-2, "Learning rate of the router's free logits and prior MLP.")
    lr_graph: float = config_field(3e-3, "Learning rate of the graph learner.")
    lr_heads: float = config_field(3e-3, "Learning rate of the task heads.")
    weight_decay: float = config_field(0.0, "AdamW weight decay.")
    grad_clip: float = config_field(1.0, "Clip the global gradient norm to this (0 disables clipping).")
    task_sampling_temperature: float = config_field(
        2.0, "T of task sampling p_t ~ n_t^(1/T): 1 is proportional to size, large T is uniform."
    )
    eval_every: int = config_field(0, "Evaluate on validation data every this many steps (0: only at the end).")
    seed: int = config_field(0, "Seed of initialisation, sampling and dropout.")
    progress: bool = config_field(True, "Show progress bars.")
    checkpoint_every: int = config_field(
        0, "Write a training checkpoint every this many steps (0: only at the end); needs train(checkpoint_dir=...)."
    )
    keep_checkpoints: int = config_field(2, "How many of the newest training checkpoints to keep (0 keeps all).")
    precision: str = config_field(
        "fp32", "'fp32', or 'bf16' to run forward passes under bfloat16 autocast (weights and optimizer stay fp32)."
    )

    def __post_init__(self) -> None:
        owner = "TrainingConfig"
        _check_positive_int(owner, "steps", self.steps)
        _check_positive_int(owner, "batch_size", self.batch_size)
        _check_positive_int(owner, "max_length", self.max_length)
        for name in ("lr_adapters", "lr_router", "lr_graph", "lr_heads"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise ConfigError(f"{owner}.{name} must be a non-negative finite number, got {value!r}.")
        _check_range(owner, "weight_decay", self.weight_decay, 0.0, None, closed_high=False)
        _check_range(owner, "grad_clip", self.grad_clip, 0.0, None, closed_high=False)
        _check_positive_number(owner, "task_sampling_temperature", self.task_sampling_temperature)
        for name in ("eval_every", "checkpoint_every", "keep_checkpoints"):
            _check_non_negative_int(owner, name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"{owner}.seed must be an integer, got {self.seed!r}.")
        _check_bool(owner, "progress", self.progress)
        _check_choice(owner, "precision", self.precision, ("fp32", "bf16"))


@dataclass
class GraphFTConfig(ConfigBase):
    """Everything that defines a graphft model and its training run."""

    backbone: str = config_field("minilm", "'minilm' (the shipped all-MiniLM-L6-v2) or a local checkpoint path.")
    num_hidden_layers: int | None = config_field(None, "Keep only the backbone's first layers (None keeps all).")
    adapter: AdapterConfig = config_field(None, "The module bank.")
    router: RouterConfig = config_field(None, "The path router.")
    graph: GraphConfig = config_field(None, "The task graph learner.")
    regularisation: RegularisationConfig = config_field(None, "Regulariser strengths.")
    training: TrainingConfig = config_field(None, "The training loop.")

    def __post_init__(self) -> None:
        defaults = {
            "adapter": AdapterConfig,
            "router": RouterConfig,
            "graph": GraphConfig,
            "regularisation": RegularisationConfig,
            "training": TrainingConfig,
        }
        for name, cls in defaults.items():
            value = getattr(self, name)
            if value is None:
                setattr(self, name, cls())
            elif isinstance(value, dict):
                setattr(self, name, cls.from_dict(value))  # type: ignore[attr-defined]
            elif not isinstance(value, cls):
                raise ConfigError(f"GraphFTConfig.{name} must be a {cls.__name__} or a mapping, got {value!r}.")
        if self.num_hidden_layers is not None:
            _check_positive_int("GraphFTConfig", "num_hidden_layers", self.num_hidden_layers)
        if not isinstance(self.backbone, str) or not self.backbone:
            raise ConfigError(
                f"GraphFTConfig.backbone must be 'minilm' or a local checkpoint path, got {self.backbone!r}."
            )
