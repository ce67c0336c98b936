"""Hyperparameter tuning with Optuna: search spaces over config keys, objectives, resumable multi-worker studies,
and sensitivity analyses (hyperparameter, environment, data)."""

from graphft.tuning.objective import MultiObjective, Objective
from graphft.tuning.problems import Problem, problem_for, suite_problem, tiny_problem
from graphft.tuning.space import DEFAULT_SPACE, SearchSpace, config_keys, default_search_space, set_config_value
from graphft.tuning.storage import DEFAULT_STORAGE, create_study, open_storage
from graphft.tuning.workers import claimed_trials, run_study

__all__ = [
    "DEFAULT_SPACE",
    "DEFAULT_STORAGE",
    "MultiObjective",
    "Objective",
    "Problem",
    "SearchSpace",
    "claimed_trials",
    "config_keys",
    "create_study",
    "default_search_space",
    "open_storage",
    "problem_for",
    "run_study",
    "set_config_value",
    "suite_problem",
    "tiny_problem",
]
