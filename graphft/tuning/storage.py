"""Study storage and the worker loop: resumable, multi-process Optuna studies.

``storage`` may be a file path (an embedded SQLite database; ``.log``/``.journal``/``.jsonl`` paths or a
``journal:`` prefix make an Optuna journal file instead), any SQLAlchemy database URL
(``postgresql+psycopg2://user@host/db``, ``mysql+pymysql://...``, ``sqlite:///path``) or an Optuna storage object.
Database storages record heartbeats; a trial whose worker died (no heartbeat for ``grace_period`` seconds) is
failed and re-queued by Optuna's retry callback, and a later or surviving worker runs it again.

Any number of workers (processes or machines) may call :func:`run_study` on one study: together they finish
exactly ``n_trials`` trials (a failed trial that was retried is replaced by its retry).

Limitation: Optuna's journal storage records no heartbeats, so a trial whose worker was killed stays RUNNING there
and is not retried; use SQLite or a database server where workers may die.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, fail_stale_trials
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from graphft.errors import StudyStorageError, TuningError
from graphft.tuning.locks import StudyLock

__all__ = ["DEFAULT_STORAGE", "claimed_trials", "create_study", "open_storage", "run_study"]

DEFAULT_STORAGE = "graphft_tuning.db"
"""The default storage: an embedded SQLite database file in the working directory."""

JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")

ObjectiveFunction = Callable[[optuna.trial.Trial], Any]


def _mask_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _retry_callback(max_retry: int | None) -> dict[str, Any]:
    """Optuna's retry-on-stale-heartbeat callback, under the keyword this Optuna version takes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
            return {"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry)}
        return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry)}


def _storage_kind(storage: str | Path) -> tuple[str, str]:
    """('journal', path), ('rdb', url) for a path or URL."""
    text = str(storage)
    if text.startswith("journal:"):
        return "journal", text.removeprefix("journal:")
    if "://" in text:
        return "rdb", text
    if text.endswith(JOURNAL_SUFFIXES):
        return "journal", text
    return "rdb", f"sqlite:///{Path(text).expanduser().resolve()}"


def open_storage(
    storage: str | Path | BaseStorage | None = None,
    *,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int | None = 3,
) -> BaseStorage:
    """Open (and create where needed) a study storage.

    Args:
        storage: a path, a database URL, or an Optuna storage (returned as is); None is :data:`DEFAULT_STORAGE`.
        heartbeat_interval: seconds between a running trial's heartbeats (database storages).
        grace_period: seconds without a heartbeat after which a trial counts as dead (default: 2 intervals).
        max_retry: how often a dead trial is re-queued (None: without limit).

    Raises:
        StudyStorageError: the database cannot be reached, its driver is missing, or the file cannot be written.
    """
    if isinstance(storage, BaseStorage):
        return storage
    if not isinstance(heartbeat_interval, int) or heartbeat_interval < 1:
        raise TuningError(f"heartbeat_interval must be a whole number of seconds >= 1, got {heartbeat_interval!r}.")
    grace_period = grace_period if grace_period is not None else 2 * heartbeat_interval
    if not isinstance(grace_period, int) or grace_period <= heartbeat_interval:
        raise TuningError(
            f"grace_period ({grace_period!r}) must be a whole number of seconds above heartbeat_interval "
            f"({heartbeat_interval}); a live trial would otherwise be declared dead."
        )
    kind, location = _storage_kind(storage if storage is not None else DEFAULT_STORAGE)
    if kind == "journal":
        path = Path(location).expanduser().resolve()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise StudyStorageError(
                f"cannot open the journal file {str(path)!r}: {exc}; pass a path in a writable directory."
            ) from exc
    return _open_rdb(location, heartbeat_interval, grace_period, max_retry)


def _open_rdb(url: str, heartbeat_interval: int, grace_period: int, max_retry: int | None) -> RDBStorage:
    import sqlalchemy.exc

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        if str(database) not in ("", ":memory:"):
            try:
                database.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StudyStorageError(
                    f"cannot create the directory of the SQLite file {str(database)!r}: {exc}; pick a writable path."
                ) from exc
        engine_kwargs["connect_args"] = {"timeout": 60}  # workers wait for each other's writes
    elif url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
        engine_kwargs["pool_pre_ping"] = True
    shown = _mask_password(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                **_retry_callback(max_retry),
            )
    except ImportError as exc:
        raise StudyStorageError(
            f"the database driver for {shown!r} is not installed ({exc}); install it, e.g. "
            "pip install psycopg2-binary for postgresql+psycopg2:// URLs."
        ) from exc
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError) as exc:
        raise StudyStorageError(
            f"{shown!r} is not a valid storage URL ({exc}); use dialect+driver://user:password@host:port/database "
            "or a plain file path for SQLite."
        ) from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StudyStorageError(
            f"cannot reach the study storage {shown!r}: {first_line}. Check that the server runs and accepts "
            "connections at that host and port with those credentials, or use a local file path (SQLite)."
        ) from exc


def _study_lock(storage: str | Path | BaseStorage | None, study_name: str) -> StudyLock:
    if isinstance(storage, BaseStorage):
        return StudyLock(study_name)
    kind, location = _storage_kind(storage if storage is not None else DEFAULT_STORAGE)
    if kind == "journal":
        return StudyLock(study_name, lock_file=Path(f"{Path(location).expanduser().resolve()}.graphft-lock"))
    if location.startswith("sqlite:///") and location != "sqlite:///:memory:":
        return StudyLock(study_name, lock_file=Path(location.removeprefix("sqlite:///") + ".graphft-lock"))
    return StudyLock(study_name, url=location)


def create_study(
    study_name: str = "graphft",
    storage: str | Path | BaseStorage | None = None,
    *,
    directions: Sequence[str] = ("maximize",),
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    load_if_exists: bool = True,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int | None = 3,
) -> optuna.Study:
    """Create a study in ``storage``, or load it when it exists (``load_if_exists``) to resume it.

    See :func:`open_storage` for ``storage`` and the heartbeat settings; ``sampler`` and ``pruner`` are Optuna's
    (default: TPE and the median pruner).

    Raises:
        StudyStorageError: the storage cannot be opened.
        TuningError: the study exists and ``load_if_exists`` is False, or its directions differ.
    """
    opened = open_storage(
        storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period, max_retry=max_retry
    )
    try:
        study = optuna.create_study(
            storage=opened,
            study_name=study_name,
            directions=list(directions),  # type: ignore[arg-type]
            sampler=sampler,
            pruner=pruner if pruner is not None else optuna.pruners.MedianPruner(),
            load_if_exists=load_if_exists,
        )
    except optuna.exceptions.DuplicatedStudyError as exc:
        raise TuningError(
            f"a study named {study_name!r} already exists in this storage; pass load_if_exists=True to resume "
            "it, or choose another study_name."
        ) from exc
    if list(study.directions) != [optuna.study.StudyDirection[d.upper()] for d in directions]:
        raise TuningError(
            f"study {study_name!r} was created with directions {[d.name.lower() for d in study.directions]}, not "
            f"{list(directions)}; use the same objective or another study_name."
        )
    return study


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
