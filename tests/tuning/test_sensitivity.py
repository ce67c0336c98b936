"""Sensitivity studies in the tiny setting: every file is written, every knob value has every seed, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest

from graphft.errors import TuningError
from graphft.tuning import Problem, tiny_problem
from graphft.tuning.knobs import KNOBS, Knob, apply_knob
from graphft.tuning.sensitivity import run_sensitivity

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def problem() -> Problem:
    return tiny_problem(steps=6)


def test_hyperparameter_study_writes_sweeps_importances_and_plots(tmp_path: Path, problem: Problem) -> None:
    knobs = (Knob("router.gating_threshold", (0.0, 0.2), 0.0),)
    payload = run_sensitivity(
        "hyperparameter", tmp_path, setting="tiny", seeds=(0, 1), knobs=knobs, joint_trials=3, problem=problem
    )
    for name in ("hyperparameter.json", "hyperparameter.md", "hyperparameter.png", "hyperparameter_importance.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporary files
    written = json.loads((tmp_path / "hyperparameter.json").read_text())
    assert [(r["value"], r["seed"]) for r in written["records"]] == [(0.0, 0), (0.0, 1), (0.2, 0), (0.2, 1)]
    importances = payload["joint_study"]["importances"]
    assert set(importances) == {"router.routing_temperature", "router.gating_threshold", "regularisation.relation"}
    assert math.isclose(sum(importances.values()), 1.0, rel_tol=1e-6)
    row = written["summary"]["router.gating_threshold"]["values"][0]
    metrics = [r["metric"] for r in written["records"] if r["value"] == 0.0]
    assert row["mean"] == pytest.approx(sum(metrics) / 2) and row["min"] == min(metrics)
    assert "router.gating_threshold" in (tmp_path / "hyperparameter.md").read_text()


def test_environment_and_data_studies_run_every_knob(tmp_path: Path, problem: Problem) -> None:
    environment = (KNOBS["environment"][1], KNOBS["environment"][2], KNOBS["environment"][4])  # lr, precision, seed
    payload = run_sensitivity("environment", tmp_path, setting="tiny", seeds=(0,), knobs=environment, problem=problem)
    assert {r["knob"] for r in payload["records"]} == {"learning_rate_scale", "precision", "seed"}
    seed_runs = [(r["value"], r["seed"]) for r in payload["records"] if r["knob"] == "seed"]
    assert seed_runs == [(value, value) for value in KNOBS["environment"][4].values]  # one run per seed value
    data = run_sensitivity("data", tmp_path, setting="tiny", seeds=(0,), knobs=KNOBS["data"][1:2], problem=problem)
    assert len(data["records"]) == len(KNOBS["data"][1].values)
    assert all(0.0 <= r["metric"] <= 1.0 for r in data["records"])
    assert (tmp_path / "environment.png").exists() and (tmp_path / "data.md").exists()


def test_knobs_change_what_they_name(problem: Problem) -> None:
    config, data = problem.base_config, problem.data
    assert apply_knob(KNOBS["hyperparameter"][0], 3.0, config, data, 0).config.router.routing_temperature == 3.0
    scaled = apply_knob(KNOBS["environment"][1], 4.0, config, data, 0).config.training
    assert scaled.lr_adapters == pytest.approx(4 * config.training.lr_adapters)
    assert apply_knob(KNOBS["environment"][4], 3, config, data, 0).config.training.seed == 3
    assert sum(apply_knob(KNOBS["data"][0], 0.25, config, data, 0).data.sizes("train")) < sum(data.sizes("train"))


def test_bad_kind_setting_and_seeds_are_typed_errors(tmp_path: Path, problem: Problem) -> None:
    with pytest.raises(TuningError, match="hyperparameter"):
        run_sensitivity("weather", tmp_path, setting="tiny")  # type: ignore[arg-type]
    with pytest.raises(TuningError, match="tiny"):
        run_sensitivity("data", tmp_path, setting="huge")  # type: ignore[arg-type]
    with pytest.raises(TuningError, match="seed"):
        run_sensitivity("data", tmp_path, setting="tiny", seeds=(), problem=problem)
    with pytest.raises(TuningError, match=r"training\.steps"):
        apply_knob(Knob("training.stepz", (1,)), 1, problem.base_config, problem.data, 0)
