"""Optuna objectives: sample a config from a search space, train a fresh model, return validation metrics.

The single-objective :class:`Objective` reports the average validation metric after every evaluation
(``trial.report``), so Optuna's pruners (``MedianPruner``, ``HyperbandPruner``) can stop poor trials early. A
diverging trial (NaN loss) is recorded as failed, with the reason in ``trial.user_attrs["fail_reason"]``, and the
study goes on. :class:`MultiObjective` returns (accuracy, cost), cost being trainable parameters or seconds per step.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import optuna

from graphft.errors import NonFiniteLossError, TuningError
from graphft.training import train
from graphft.tuning.problems import Problem
from graphft.tuning.space import SearchSpace, default_search_space

__all__ = ["MultiObjective", "Objective"]

Cost = Literal["parameters", "step_time"]


class Objective:
    """Maximise the average validation metric of a problem's tasks.

    Args:
        problem: the backbone, data and base config.
        space: what to search (default: :func:`~graphft.tuning.space.default_search_space`).
        eval_every: evaluate (and report to the pruner) every this many steps; 0 keeps the base config's.

    Raises:
        TuningError: the space does not fit the base config.
    """

    directions: tuple[str, ...] = ("maximize",)

    def __init__(self, problem: Problem, space: SearchSpace | None = None, eval_every: int = 0) -> None:
        self.problem = problem
        self.space = space if space is not None else default_search_space()
        self.space.validate(problem.base_config)
        if eval_every < 0:
            raise TuningError(f"eval_every must be 0 or more, got {eval_every}.")
        self.eval_every = eval_every

    def _run(self, trial: optuna.trial.BaseTrial, report: bool) -> tuple[float, dict[str, Any]]:
        config = self.space.apply(self.problem.base_config, self.space.suggest(trial))
        if self.eval_every:
            config.training.eval_every = self.eval_every
        model = self.problem.build(config)

        def on_evaluation(step: int, metrics: dict[str, Any]) -> None:
            if not report:
                return
            trial.report(metrics["average"]["metric"], step)
            if step < config.training.steps and trial.should_prune():  # a finished run completes
                raise optuna.TrialPruned(f"pruned at step {step} (average metric {metrics['average']['metric']:.4f})")

        start = time.perf_counter()
        try:
            result = train(model, self.problem.data, on_evaluation=on_evaluation)
        except NonFiniteLossError as exc:
            trial.set_user_attr("fail_reason", str(exc))
            return math.nan, {}
        seconds = time.perf_counter() - start
        metric = float(result.evaluations[-1]["average"]["metric"])
        extras = {
            "trainable_parameters": model.num_trainable_parameters(),
            "seconds_per_step": seconds / config.training.steps,
        }
        for name, value in extras.items():
            trial.set_user_attr(name, value)
        return metric, extras

    def __call__(self, trial: optuna.trial.BaseTrial) -> float:
        """Train one sampled config; a NaN return marks the trial failed (reason in its user attrs)."""
        metric, _ = self._run(trial, report=True)
        return metric


class MultiObjective(Objective):
    """Maximise the average validation metric and minimise a cost (a study with two directions).

    Args:
        cost: ``"parameters"`` (trainable parameters) or ``"step_time"`` (seconds per training step).

    Intermediate values are not reported: Optuna does not prune multi-objective trials.
    """

    directions = ("maximize", "minimize")

    def __init__(
        self, problem: Problem, space: SearchSpace | None = None, eval_every: int = 0, cost: Cost = "parameters"
    ) -> None:
        super().__init__(problem, space, eval_every)
        if cost not in ("parameters", "step_time"):
            raise TuningError(f"unknown cost {cost!r}; use 'parameters' or 'step_time'.")
        self.cost = cost

    def __call__(self, trial: optuna.trial.BaseTrial) -> tuple[float, float]:  # type: ignore[override]
        metric, extras = self._run(trial, report=False)
        if not extras:
            return math.nan, math.nan
        key = "trainable_parameters" if self.cost == "parameters" else "seconds_per_step"
        return metric, float(extras[key])
