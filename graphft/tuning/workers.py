"""The worker loop: any number of processes (or machines) run trials of one study until it holds ``n_trials``.

Each worker claims a trial under a study-wide lock (:mod:`graphft.tuning.locks`): it counts the trials already
claimed and asks Optuna for a new one (or a queued retry) only while fewer than ``n_trials`` exist, so together
the workers finish exactly ``n_trials`` trials (a failed trial that was retried is replaced by its retry).
Trials run with Optuna's heartbeat thread, and the stale trials of dead workers are failed and re-queued by
Optuna's retry callback (database storages; see :mod:`graphft.tuning.storage`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, fail_stale_trials
from optuna.trial import TrialState

from graphft.errors import TuningError
from graphft.tuning.locks import StudyLock
from graphft.tuning.storage import DEFAULT_STORAGE, create_study, storage_kind

__all__ = ["claimed_trials", "run_study"]

ObjectiveFunction = Callable[[optuna.trial.Trial], Any]


def _study_lock(storage: str | Path | BaseStorage | None, study_name: str) -> StudyLock:
    if isinstance(storage, BaseStorage):
        return StudyLock(study_name)
    kind, location = storage_kind(storage if storage is not None else DEFAULT_STORAGE)
    if kind == "journal":
        return StudyLock(study_name, lock_file=Path(f"{Path(location).expanduser().resolve()}.graphft-lock"))
    if location.startswith("sqlite:///") and location != "sqlite:///:memory:":
        return StudyLock(study_name, lock_file=Path(location.removeprefix("sqlite:///") + ".graphft-lock"))
    return StudyLock(study_name, url=location)


def claimed_trials(study: optuna.Study) -> int:
    """Trials that use up the study's budget: all of them, less failed ones replaced by a retry."""
    trials = study.get_trials(deepcopy=False)
    retried = {number for t in trials for number in t.system_attrs.get("retry_history", [])}
    return len(trials) - len(retried)


def run_study(
    objective: ObjectiveFunction,
    n_trials: int,
    study_name: str = "graphft",
    storage: str | Path | BaseStorage | None = None,
    *,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int | None = 3,
    catch: tuple[type[Exception], ...] = (),
    wait_for_others: bool = True,
) -> optuna.Study:
    """Run trials of ``objective`` until the study holds ``n_trials`` (counting every worker's).

    Call it from as many processes as you like on one storage; it resumes an existing study. Failed trials are
    recorded (reason in ``user_attrs["fail_reason"]``) and the loop goes on; only exceptions outside ``catch``
    that are not a NaN objective value stop this worker after the trial is recorded.

    Args:
        objective: a callable ``trial -> value(s)``; its ``directions`` attribute, if any, sets the study's.
        n_trials: the total number of trials the study should hold when every worker is done.
        study_name, storage, sampler, pruner, heartbeat_interval, grace_period, max_retry: see
            :func:`create_study`.
        catch: exception types that fail a trial without stopping the worker.
        wait_for_others: with heartbeats, wait for other workers' running trials (and run the retries of the
            ones whose worker died) before returning, so the study is complete when any worker returns.

    Returns:
        The study.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise TuningError(f"n_trials must be a positive integer, got {n_trials!r}.")
    directions = tuple(getattr(objective, "directions", ("maximize",)))
    study = create_study(
        study_name,
        storage,
        directions=directions,
        sampler=sampler,
        pruner=pruner,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        max_retry=max_retry,
    )
    lock = _study_lock(storage, study_name)
    heartbeat = optuna.storages._heartbeat.is_heartbeat_enabled(study._storage)
    while True:
        if heartbeat:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                fail_stale_trials(study)
        with lock.hold():
            waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
            trial = None
            if waiting or claimed_trials(study) < n_trials:
                with warnings.catch_warnings():  # we run Optuna's heartbeat thread ourselves, see _run_trial
                    warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
                    trial = study.ask()
        if trial is not None:
            _run_trial(study, trial, objective, catch)
            continue
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not (heartbeat and wait_for_others and running):
            return study
        time.sleep(min(heartbeat_interval, 1))


def _run_trial(
    study: optuna.Study, trial: optuna.trial.Trial, objective: ObjectiveFunction, catch: tuple[type[Exception], ...]
) -> None:
    """Run one claimed trial with Optuna's heartbeat thread and record its outcome."""
    error: Exception | None = None
    values: Any = None
    state: TrialState | None = None
    # Optuna's own heartbeat thread (what study.optimize uses); claiming under the study lock needs study.ask().
    with optuna.storages._heartbeat.get_heartbeat_thread(trial._trial_id, study._storage):
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except Exception as exc:
            state, error = TrialState.FAIL, exc
    if error is not None:
        trial.set_user_attr("fail_reason", f"{type(error).__name__}: {error}")
    if state is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            study.tell(trial, values)
    else:
        study.tell(trial, state=state)
    if error is not None and not isinstance(error, catch):
        raise error
