"""Studies shared by worker processes: exact trial budgets, resume after a killed worker, storage errors."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from graphft.errors import StudyStorageError, TuningError
from graphft.tuning import claimed_trials, create_study, open_storage, run_study

optuna.logging.set_verbosity(optuna.logging.WARNING)
FORK = multiprocessing.get_context("fork")  # workers inherit the imported modules: no start-up cost


def quick_objective(trial: optuna.trial.Trial) -> float:
    """A cheap objective that records which process ran it."""
    x = trial.suggest_float("x", -1.0, 1.0)
    trial.set_user_attr("pid", os.getpid())
    time.sleep(0.15)
    return x * x


def _worker(storage: str, study_name: str, n_trials: int, barrier: Any) -> None:
    sampler = optuna.samplers.RandomSampler()
    barrier.wait(timeout=60)  # start together, so both take part even on a loaded machine
    run_study(quick_objective, n_trials, study_name, storage, heartbeat_interval=1, sampler=sampler)


def _run_workers(storage: str, study_name: str, n_trials: int, workers: int = 2) -> optuna.Study:
    create_study(study_name, storage)  # created once, so workers only load it
    barrier = FORK.Barrier(workers)
    processes = [FORK.Process(target=_worker, args=(storage, study_name, n_trials, barrier)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0, f"worker exited with {process.exitcode}"
    return optuna.load_study(study_name=study_name, storage=open_storage(storage))


def _assert_exactly(study: optuna.Study, n_trials: int, workers: int = 2) -> None:
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(n_trials))  # none lost, none extra
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.params["x"] for t in trials}) == n_trials  # no trial evaluated twice
    assert len({t.user_attrs["pid"] for t in trials}) == workers  # both workers took part


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_two_workers_share_one_budget_on_files(tmp_path: Path, kind: str) -> None:
    storage = str(tmp_path / ("study.db" if kind == "sqlite" else "study.log"))
    _assert_exactly(_run_workers(storage, "shared", 9), 9)


def test_two_workers_share_one_budget_on_postgresql(postgres_url: str) -> None:
    _assert_exactly(_run_workers(postgres_url, "shared-pg", 9), 9)


def _slow_worker(storage: str) -> None:
    def objective(trial: optuna.trial.Trial) -> float:
        trial.suggest_float("x", -1.0, 1.0)
        time.sleep(120)  # killed long before this ends
        return 0.0

    run_study(objective, 4, "killed", storage, heartbeat_interval=1, grace_period=2)


def test_a_killed_worker_leaves_a_study_that_resumes(tmp_path: Path) -> None:
    storage = str(tmp_path / "study.db")
    study = create_study("killed", storage, heartbeat_interval=1, grace_period=2)
    worker = FORK.Process(target=_slow_worker, args=(storage,))
    worker.start()
    deadline = time.monotonic() + 60
    while not study.get_trials(states=(TrialState.RUNNING,)):
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.1)
    time.sleep(1.5)  # a heartbeat is on record
    os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
    worker.join()
    killed = study.get_trials(states=(TrialState.RUNNING,))[0]
    resumed = run_study(quick_objective, 4, "killed", storage, heartbeat_interval=1, grace_period=2)
    trials = resumed.get_trials()
    assert trials[killed.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == killed.params  # the retry reruns the killed trial's parameters
    assert claimed_trials(resumed) == 4
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def test_a_failing_trial_does_not_stop_the_study(tmp_path: Path) -> None:
    def objective(trial: optuna.trial.Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        if trial.number == 1:
            raise RuntimeError("broken trial")
        return float("nan") if trial.number == 2 else x

    study = run_study(objective, 4, "failing", str(tmp_path / "s.db"), catch=(RuntimeError,))
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert "broken trial" in study.trials[1].user_attrs["fail_reason"]


def test_resume_continues_to_the_new_budget(tmp_path: Path) -> None:
    storage = str(tmp_path / "s.db")
    run_study(quick_objective, 2, "resume", storage)
    study = run_study(quick_objective, 5, "resume", storage)
    assert len(study.trials) == 5


def test_unreachable_database_is_a_typed_error_with_a_fix() -> None:
    url = "postgresql+psycopg2://someone:secret@127.0.0.1:1/nothing"
    pytest.importorskip("psycopg2")
    with pytest.raises(StudyStorageError, match="cannot reach") as info:
        open_storage(url)
    assert "127.0.0.1:1" in str(info.value) and "secret" not in str(info.value)


def test_bad_url_and_bad_settings_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(StudyStorageError, match=r"not a valid storage URL|driver"):
        open_storage("nosuchdialect+nodriver://host/db")
    with pytest.raises(TuningError, match="grace_period"):
        open_storage(str(tmp_path / "s.db"), heartbeat_interval=5, grace_period=5)
    with pytest.raises(TuningError, match="n_trials"):
        run_study(quick_objective, 0, "x", str(tmp_path / "s.db"))
    create_study("taken", str(tmp_path / "s.db"))
    with pytest.raises(TuningError, match="load_if_exists"):
        create_study("taken", str(tmp_path / "s.db"), load_if_exists=False)
