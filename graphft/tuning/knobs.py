"""The knobs of the sensitivity studies and how each one changes a run (config, data, or environment).

Three families: ``hyperparameter`` (routing temperature, gating threshold, relation-matrix regularisation strength),
``environment`` (batch size, learning-rate scale, precision, CPU threads, seed) and ``data`` (training-set
fraction, label-noise rate, class imbalance).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from graphft.config import GraphFTConfig
from graphft.errors import TuningError
from graphft.tasks.data import MultiTaskData
from graphft.tuning.perturb import add_label_noise, imbalance_classes, subsample_train
from graphft.tuning.space import SearchSpace

__all__ = ["KINDS", "KNOBS", "Kind", "Knob", "RunSettings", "apply_knob"]

Kind = Literal["hyperparameter", "environment", "data"]
KINDS: tuple[str, ...] = ("hyperparameter", "environment", "data")


@dataclass(frozen=True)
class Knob:
    """One swept quantity.

    Attributes:
        name: a dotted config key, or one of the special names handled by :func:`apply_knob`.
        values: the values swept, in plotting order.
        default: the value of the unperturbed run (None: the base config's).
        log: plot the values on a log axis.
        per_seed: run every value under every seed (False for the seed knob itself: each value is one run).
    """

    name: str
    values: tuple[Any, ...]
    default: Any = None
    log: bool = False
    per_seed: bool = True


KNOBS: dict[str, tuple[Knob, ...]] = {
    "hyperparameter": (
        Knob("router.routing_temperature", (0.3, 1.0, 3.0), 1.0, log=True),
        Knob("router.gating_threshold", (0.0, 0.05, 0.2), 0.05),
        Knob("regularisation.relation", (0.0, 0.1, 1.0), 0.1),
    ),
    "environment": (
        Knob("training.batch_size", (8, 16, 32), 16, log=True),
        Knob("learning_rate_scale", (0.25, 1.0, 4.0), 1.0, log=True),
        Knob("precision", ("fp32", "bf16"), "fp32"),
        Knob("threads", (1, 2), 1, per_seed=False),
        Knob("seed", (0, 1, 2, 3), 0, per_seed=False),
    ),
    "data": (
        Knob("train_fraction", (0.25, 0.5, 1.0), 1.0),
        Knob("label_noise", (0.0, 0.2, 0.4), 0.0),
        Knob("class_imbalance", (0.0, 0.5, 0.9), 0.0),
    ),
}
"""The default knobs of each study family."""


@dataclass
class RunSettings:
    """Everything one sensitivity run needs beyond the problem's backbone."""

    config: GraphFTConfig
    data: MultiTaskData
    precision: str = "fp32"
    threads: int | None = None


LEARNING_RATES = ("lr_adapters", "lr_router", "lr_graph", "lr_heads")


def apply_knob(knob: Knob, value: Any, config: GraphFTConfig, data: MultiTaskData, seed: int) -> RunSettings:
    """The run of ``knob`` at ``value`` under ``seed``, from the base ``config`` and clean ``data``.

    Raises:
        TuningError: an unknown knob name or a bad value.
    """
    config = SearchSpace({}).apply(config, {"training.seed": seed})
    run = RunSettings(config, data)
    name = knob.name
    if name == "learning_rate_scale":
        training = dataclasses.replace(
            config.training, **{rate: getattr(config.training, rate) * float(value) for rate in LEARNING_RATES}
        )
        run.config = dataclasses.replace(config, training=training)
    elif name == "precision":
        if value not in ("fp32", "bf16"):
            raise TuningError(f"precision must be 'fp32' or 'bf16', got {value!r}.")
        run.precision = value
    elif name == "threads":
        run.threads = int(value)
    elif name == "seed":
        run.config = SearchSpace({}).apply(config, {"training.seed": int(value)})
    elif name == "train_fraction":
        run.data = subsample_train(data, float(value), seed)
    elif name == "label_noise":
        run.data = add_label_noise(data, float(value), seed)
    elif name == "class_imbalance":
        run.data = imbalance_classes(data, float(value), seed)
    else:
        run.config = SearchSpace({}).apply(config, {name: value})  # TuningError names an unknown key
    return run
