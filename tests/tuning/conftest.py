"""Fixtures of the tuning tests: a throwaway PostgreSQL server on loopback, when one can be started here."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _postgres_binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL cluster on 127.0.0.1 (skipped, with the reason, where none can be started)."""
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install psycopg2-binary)")
    binaries = _postgres_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl; apt-get install postgresql)")
    prefix: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="graphft-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        runuser = shutil.which("runuser")
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            user = None
        if runuser is None or user is None:
            shutil.rmtree(directory, ignore_errors=True)
            pytest.skip("running as root without a 'postgres' user and runuser; initdb refuses root")
        os.chown(directory, user.pw_uid, user.pw_gid)
        prefix = [runuser, "-u", "postgres", "--"]
    directory.chmod(0o755)
    data, port = directory / "data", _free_port()
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    started = False
    try:
        subprocess.run(
            [*prefix, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [
                *prefix,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(directory / "log"),
                "-w",
                "-t",
                "30",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        started = True
    except (subprocess.SubprocessError, OSError) as exc:
        log = directory / "log"
        detail = log.read_text(errors="replace")[-500:] if log.exists() else ""
        shutil.rmtree(directory, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL server here: {exc} {detail}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(
                    [*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                    capture_output=True,
                    timeout=60,
                )
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tuning tests train many tiny models; one thread is far faster than two on a shared 2-core machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
