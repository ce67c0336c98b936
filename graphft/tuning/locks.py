"""Cross-process study locks: they make "count the trials, then claim one" atomic for every worker of a study.

Optuna numbers trials atomically but has no "create a trial only if fewer than N exist"; two workers checking the
count at once would both start a trial and overshoot. Holding a lock around the check and ``study.ask()`` makes
the total exact. The lock follows the storage: an ``flock`` on a file next to a SQLite database or journal file,
a PostgreSQL advisory lock, a MySQL named lock, and an in-process lock for anything else (in-memory studies).
All of them are released by the operating system or the server when a worker dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["StudyLock"]

_PROCESS_LOCKS: dict[str, threading.Lock] = {}


def _key(study_name: str) -> int:
    """A signed 63-bit lock id derived from the study name."""
    return int.from_bytes(hashlib.sha256(study_name.encode()).digest()[:8], "big") >> 1


class StudyLock:
    """A lock shared by every worker of one study.

    Args:
        study_name: the study; each study has its own lock.
        lock_file: lock with ``flock`` on this file (file-based storages).
        url: lock through this database server (PostgreSQL or MySQL URLs).
    """

    def __init__(self, study_name: str, lock_file: Path | None = None, url: str | None = None) -> None:
        self.study_name = study_name
        self.lock_file = lock_file
        self.url = url
        self._engine: Any = None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the ``with`` block."""
        if self.lock_file is not None:
            with self._hold_file(self.lock_file):
                yield
        elif self.url is not None and self.url.startswith(("postgresql", "mysql")):
            with self._hold_server():
                yield
        else:
            with _PROCESS_LOCKS.setdefault(self.study_name, threading.Lock()):
                yield

    @staticmethod
    @contextlib.contextmanager
    def _hold_file(path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _hold_server(self) -> Iterator[None]:
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        assert self.url is not None
        if self._engine is None:
            self._engine = sqlalchemy.create_engine(self.url, poolclass=NullPool)
        key = _key(self.study_name)
        postgres = self.url.startswith("postgresql")
        acquire = "SELECT pg_advisory_lock(:key)" if postgres else "SELECT GET_LOCK(:key, -1)"
        release = "SELECT pg_advisory_unlock(:key)" if postgres else "SELECT RELEASE_LOCK(:key)"
        argument = key if postgres else f"graphft-{key}"
        with self._engine.connect() as connection:
            connection.execute(sqlalchemy.text(acquire), {"key": argument})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text(release), {"key": argument})
