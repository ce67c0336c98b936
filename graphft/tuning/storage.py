"""Study storage: where Optuna studies live, opened with heartbeats and retries; see :mod:`graphft.tuning.workers`
for the multi-process worker loop.

``storage`` may be a file path (an embedded SQLite database; ``.log``/``.journal``/``.jsonl`` paths or a
``journal:`` prefix make an Optuna journal file instead), any SQLAlchemy database URL
(``postgresql+psycopg2://user@host/db``, ``mysql+pymysql://...``, ``sqlite:///path``) or an Optuna storage object.
Database storages record heartbeats; a trial whose worker died (no heartbeat for ``grace_period`` seconds) is
failed and re-queued by Optuna's retry callback, and a later or surviving worker runs it again.

Limitation: Optuna's journal storage records no heartbeats, so a trial whose worker was killed stays RUNNING there
and is not retried; use SQLite or a database server where workers may die.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from graphft.errors import StudyStorageError, TuningError

__all__ = ["DEFAULT_STORAGE", "create_study", "open_storage", "storage_kind"]

DEFAULT_STORAGE = "graphft_tuning.db"
"""The default storage: an embedded SQLite database file in the working directory."""

JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


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


def storage_kind(storage: str | Path) -> tuple[str, str]:
    """``("journal", path)`` or ``("rdb", url)`` for a storage path or URL."""
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
    kind, location = storage_kind(storage if storage is not None else DEFAULT_STORAGE)
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
