"""Sensitivity analyses: how much the average test metric moves when one thing changes.

- ``hyperparameter``: one-at-a-time sweeps of the routing temperature, the gating threshold and the relation-matrix
  regularisation strength around the defaults, plus a joint Optuna study over the three with parameter importances
  (:func:`optuna.importance.get_param_importances`) and Optuna's importance plot.
- ``environment``: batch size, a common scale of all learning rates, precision (fp32 or bf16 autocast), CPU
  threads, seed.
- ``data``: training-set fraction, label-noise rate, class imbalance (train split only).

Each study writes ``<kind>.json``, ``<kind>.md`` and ``<kind>.png`` (metric vs knob, every seed shown) to the output
directory, atomically; the hyperparameter study adds ``hyperparameter_importance.png``. Settings: ``"tiny"``
(seconds; tests), ``"small"`` (minutes on 2 CPU cores), ``"full"`` (the whole MiniLM on text-5).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import optuna
import torch

from graphft.errors import NonFiniteLossError, TuningError
from graphft.evaluation import evaluate
from graphft.provenance import run_metadata
from graphft.training import train
from graphft.tuning.knobs import KINDS, KNOBS, Kind, Knob, RunSettings, apply_knob
from graphft.tuning.objective import Objective
from graphft.tuning.problems import SETTINGS, Problem, Setting, problem_for
from graphft.tuning.report import plot_sweeps, save_figure, summarise, write_json, write_markdown
from graphft.tuning.space import default_search_space

__all__ = ["DEFAULT_SEEDS", "JOINT_TRIALS", "joint_study", "run_once", "run_sensitivity"]

DEFAULT_SEEDS: dict[str, tuple[int, ...]] = {"tiny": (0, 1), "small": (0, 1), "full": (0, 1, 2)}
JOINT_TRIALS: dict[str, int] = {"tiny": 4, "small": 8, "full": 40}
TITLES = {
    "hyperparameter": "Hyperparameter sensitivity",
    "environment": "Environmental sensitivity",
    "data": "Data sensitivity",
}


def run_once(problem: Problem, run: RunSettings) -> dict[str, Any]:
    """Train a fresh model for ``run``; its test and validation average metrics and seconds per step.

    A diverging run (NaN loss) and a precision the machine cannot run are recorded, not raised.
    """
    previous_threads = torch.get_num_threads()
    if run.threads is not None:
        torch.set_num_threads(run.threads)
    precision = torch.autocast("cpu", dtype=torch.bfloat16) if run.precision == "bf16" else contextlib.nullcontext()
    try:
        model = problem.build(run.config, run.data)
        start = time.perf_counter()
        with precision:
            result = train(model, run.data)
            seconds = (time.perf_counter() - start) / run.config.training.steps
            test = evaluate(model, run.data, "test")
    except NonFiniteLossError as exc:
        return {"metric": math.nan, "validation": math.nan, "diverged": True, "error": str(exc)}
    except RuntimeError as exc:
        if run.precision != "bf16":
            raise
        return {"metric": math.nan, "validation": math.nan, "diverged": False, "error": f"bf16 unsupported: {exc}"}
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "metric": float(test["average"]["metric"]),
        "validation": float(result.evaluations[-1]["average"]["metric"]),
        "seconds_per_step": seconds,
        "diverged": False,
    }


def joint_study(problem: Problem, trials: int, seed: int, output_dir: Path) -> dict[str, Any]:
    """A TPE study over routing temperature, gating threshold and relation regularisation; their importances.

    Writes ``hyperparameter_importance.png`` (Optuna's importance plot) to ``output_dir``.
    """
    space = (
        default_search_space()
        .only("router.routing_temperature", "router.gating_threshold", "regularisation.relation")
        .narrow("regularisation.relation", 1e-3, 1.0)
    )
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(Objective(problem, space), n_trials=trials)
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)

    # Optuna's plots switch matplotlib to its own style globally; keep that inside this block.
    with warnings.catch_warnings(), matplotlib.style.context("default"):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axis = optuna.visualization.matplotlib.plot_param_importances(study, evaluator=evaluator)
        save_figure(axis.figure, output_dir / "hyperparameter_importance.png")
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {
        "trials": len(study.trials),
        "sampler": f"TPESampler(seed={seed})",
        "evaluator": f"FanovaImportanceEvaluator(seed={seed})",
        "importances": {k: float(v) for k, v in importances.items()},
        "best_value": study.best_value if completed else math.nan,
        "best_params": study.best_params if completed else {},
        "trial_records": [
            {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params} for t in study.trials
        ],
    }


def run_sensitivity(
    kind: Kind,
    output_dir: str | Path,
    *,
    setting: Setting = "small",
    seeds: Sequence[int] | None = None,
    knobs: Sequence[Knob] | None = None,
    joint_trials: int | None = None,
    problem: Problem | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Run one family of sensitivity studies and write its JSON, markdown and PNG to ``output_dir``.

    Args:
        kind: ``"hyperparameter"``, ``"environment"`` or ``"data"``.
        output_dir: where the files go (created if missing).
        setting: ``"tiny"``, ``"small"`` or ``"full"`` (see :mod:`graphft.tuning.problems`).
        seeds: seeds of every knob value (default :data:`DEFAULT_SEEDS` of the setting).
        knobs: the knobs to sweep (default :data:`~graphft.tuning.knobs.KNOBS` of ``kind``).
        joint_trials: trials of the joint hyperparameter study (default :data:`JOINT_TRIALS`; 0 skips it).
        problem: a ready problem instead of the setting's (its name is recorded).
        threads: torch CPU threads of every run (the ``threads`` knob overrides it). One is the default: on a
            shared 2-core machine, two threads made a tiny model's training up to 30 times slower.

    Returns:
        The payload written to ``<kind>.json``: records, summary, metadata (and the joint study).

    Raises:
        TuningError: an unknown kind or setting, no seeds, or a bad knob.
    """
    if kind not in KINDS:
        raise TuningError(f"unknown sensitivity kind {kind!r}; use one of {', '.join(KINDS)}.")
    if setting not in SETTINGS:
        raise TuningError(f"unknown setting {setting!r}; use one of {', '.join(SETTINGS)}.")
    seeds = tuple(seeds) if seeds is not None else DEFAULT_SEEDS[setting]
    if not seeds:
        raise TuningError("seeds is empty; give at least one seed, e.g. seeds=(0, 1).")
    chosen = tuple(knobs) if knobs is not None else KNOBS[kind]
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    problem = problem if problem is not None else problem_for(setting)
    start = time.perf_counter()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        records, joint = _run_all(kind, problem, chosen, seeds, setting, joint_trials, output)
    finally:
        torch.set_num_threads(previous_threads)
    payload: dict[str, Any] = {
        "kind": kind,
        "problem": problem.name,
        "records": records,
        "summary": summarise(records, chosen),
    }
    if joint is not None:
        payload["joint_study"] = joint
    payload["seconds"] = time.perf_counter() - start
    payload["metadata"] = run_metadata(
        {
            "kind": kind,
            "setting": setting,
            "problem": problem.name,
            "seeds": list(seeds),
            "steps": problem.base_config.training.steps,
            "threads": threads,
            "seconds": round(payload["seconds"], 1),
        }
    )
    write_json(output / f"{kind}.json", payload)
    write_markdown(output / f"{kind}.md", f"{TITLES[kind]} ({setting})", payload)
    plot_sweeps(output / f"{kind}.png", f"{TITLES[kind]}: {problem.name}", records, chosen)
    return payload


def _run_all(
    kind: str,
    problem: Problem,
    chosen: tuple[Knob, ...],
    seeds: tuple[int, ...],
    setting: str,
    joint_trials: int | None,
    output: Path,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every knob value under every seed, then the joint study (hyperparameter kind only)."""
    records = []
    for knob in chosen:
        for value in knob.values:
            for seed in seeds if knob.per_seed else seeds[:1]:
                run = apply_knob(knob, value, problem.base_config, problem.data, seed)
                used_seed = run.config.training.seed  # the seed knob sets it to its value
                records.append({"knob": knob.name, "value": value, "seed": used_seed, **run_once(problem, run)})
    trials = JOINT_TRIALS[setting] if joint_trials is None else joint_trials
    joint = joint_study(problem, trials, seeds[0], output) if kind == "hyperparameter" and trials > 0 else None
    return records, joint
