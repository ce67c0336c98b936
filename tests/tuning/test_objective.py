"""Objectives on a tiny planted problem: pruning sees intermediate values, NaN trials fail and the study goes on."""

from __future__ import annotations

import math

import optuna
import pytest
import torch
from optuna.trial import TrialState

from graphft.config import GraphFTConfig
from graphft.model import GraphFTModel
from graphft.tasks.data import MultiTaskData
from graphft.tuning import MultiObjective, Objective, Problem, default_search_space, run_study, tiny_problem

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = default_search_space().only("router.routing_temperature", "router.gating_threshold", "adapter.rank")


@pytest.fixture(scope="module")
def problem() -> Problem:
    return tiny_problem(steps=8)


def test_intermediate_values_are_reported_at_each_evaluation(problem: Problem) -> None:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(Objective(problem, SPACE, eval_every=4), n_trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE
    assert sorted(trial.intermediate_values) == [4, 8]
    assert trial.intermediate_values[8] == pytest.approx(trial.value)
    assert 0.0 <= trial.value <= 1.0
    assert trial.user_attrs["trainable_parameters"] > 0


def test_a_pruner_stops_training_at_the_first_report(problem: Problem) -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(Objective(problem, SPACE, eval_every=4), n_trials=1)
    assert study.trials[0].state == TrialState.PRUNED
    assert list(study.trials[0].intermediate_values) == [4]  # training stopped there


@pytest.mark.parametrize(
    "pruner",
    [optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0), optuna.pruners.HyperbandPruner(2, 8)],
    ids=["median", "hyperband"],
)
def test_pruned_trials_stop_before_the_end_and_finished_ones_complete(problem: Problem, pruner) -> None:  # type: ignore[no-untyped-def]
    space = default_search_space().only("training.lr_adapters", "training.lr_router")
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = run_study(
        Objective(problem, space, eval_every=2),
        6,
        "pruners",
        optuna.storages.InMemoryStorage(),
        pruner=pruner,
        sampler=sampler,
    )
    for trial in study.trials:
        last_step = max(trial.intermediate_values)
        assert (trial.state == TrialState.PRUNED) == (last_step < 8)
        assert sorted(trial.intermediate_values) == list(range(2, last_step + 1, 2))


def test_a_finished_run_is_never_pruned_at_its_last_report(problem: Problem) -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(Objective(problem, SPACE), n_trials=1)  # one report, at the end
    assert study.trials[0].state == TrialState.COMPLETE
    assert list(study.trials[0].intermediate_values) == [8]


class PoisonedProblem(Problem):
    """Its first model has NaN head weights, so the loss is NaN at step 0."""

    calls = 0

    def build(self, config: GraphFTConfig, data: MultiTaskData | None = None) -> GraphFTModel:
        model = super().build(config, data)
        PoisonedProblem.calls += 1
        if PoisonedProblem.calls == 1:
            with torch.no_grad():
                model.heads.weight.fill_(math.nan)
        return model


def test_a_nan_trial_fails_with_its_reason_and_the_study_goes_on(problem: Problem) -> None:
    poisoned = PoisonedProblem(problem.backbone, problem.data, problem.base_config)
    study = run_study(Objective(poisoned, SPACE), 3, "nan", optuna.storages.InMemoryStorage())
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert "loss became non-finite" in study.trials[0].user_attrs["fail_reason"]


def test_multi_objective_returns_accuracy_and_cost(problem: Problem) -> None:
    study = run_study(MultiObjective(problem, SPACE), 2, "multi", optuna.storages.InMemoryStorage())
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    for trial in study.trials:
        assert trial.values[1] == trial.user_attrs["trainable_parameters"]
    assert study.best_trials
    fixed = optuna.trial.FixedTrial(
        {"router.routing_temperature": 1.0, "router.gating_threshold": 0.0, "adapter.rank": 2}
    )
    accuracy, seconds = MultiObjective(problem, SPACE, cost="step_time")(fixed)
    assert 0.0 <= accuracy <= 1.0 and seconds > 0.0
