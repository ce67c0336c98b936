"""Data that ships in Debian packages, fetched into a cache without installing anything on the system.

``graphft data fetch`` runs ``apt-get download`` (no root needed, nothing installed) and unpacks each ``.deb``
with ``dpkg -x`` into ``<cache>/debian/<package>/``. The corpora are read from there at run time; none of their
files is copied into this repository. The cache is ``$GRAPHFT_DATA_DIR`` or ``~/.cache/graphft``.

Each package is unpacked into a temporary folder first and renamed into place only when complete, with a
``graphft-source.json`` beside it recording the package version, so a crash never leaves half a corpus.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from graphft.errors import DataError
from graphft.io_atomic import atomic_write_text

__all__ = ["DEBIAN_PACKAGES", "data_dir", "debian_package_root", "fetch_debian_packages"]

#: The Debian packages graphft reads data from, and what each provides.
DEBIAN_PACKAGES: dict[str, str] = {
    "python3-pattern": "test corpora of the Pattern library: mr_sent, hedge, nl_books",
    "r-cran-modeldata": "R data sets of tidymodels' modeldata: finefoods",
}
MANIFEST = "graphft-source.json"
FETCH_COMMAND = "graphft data fetch"


def data_dir() -> Path:
    """The data cache: ``$GRAPHFT_DATA_DIR`` if set, else ``~/.cache/graphft``."""
    configured = os.environ.get("GRAPHFT_DATA_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "graphft"


def debian_package_root(package: str, cache: Path | None = None) -> Path:
    """The folder a fetched package was unpacked into (its ``usr/`` lies below it).

    Raises:
        DataError: the package is unknown or has not been fetched; the message names the command that fetches it.
    """
    if package not in DEBIAN_PACKAGES:
        raise DataError(f"unknown data package {package!r}; graphft reads: {', '.join(DEBIAN_PACKAGES)}.")
    root = (cache or data_dir()) / "debian" / package
    if not (root / MANIFEST).is_file():
        raise DataError(
            f"the Debian package {package!r} ({DEBIAN_PACKAGES[package]}) has not been fetched into {root.parent}; "
            f"run `{FETCH_COMMAND}` (or `python -m graphft data fetch`; needs apt-get, no root) first, or point "
            "GRAPHFT_DATA_DIR at a cache that has it."
        )
    return root


def _run(command: list[str], cwd: Path) -> str:
    try:
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DataError(
            f"`{command[0]}` is not available on this machine; fetching Debian-packaged data needs apt-get and dpkg "
            "(Debian or Ubuntu). Fetch on such a machine and copy the cache folder, pointing GRAPHFT_DATA_DIR at it."
        ) from None
    if completed.returncode != 0:
        hint = ""
        if "Unable to locate package" in completed.stderr or "has no installation candidate" in completed.stderr:
            hint = " The package lists may be empty: run `apt-get update` (as root) and try again."
        raise DataError(f"`{' '.join(command)}` failed: {completed.stderr.strip()[-500:]}.{hint}")
    return completed.stdout


def _fetch_one(package: str, cache: Path) -> Path:
    target = cache / "debian" / package
    with tempfile.TemporaryDirectory(prefix=f".{package}.", dir=cache / "debian") as scratch:
        scratch_path = Path(scratch)
        _run(["apt-get", "download", package], cwd=scratch_path)
        debs = sorted(scratch_path.glob(f"{package}_*.deb"))
        if len(debs) != 1:
            raise DataError(f"`apt-get download {package}` produced {len(debs)} .deb files; expected one.")
        unpacked = scratch_path / "unpacked"
        _run(["dpkg", "-x", str(debs[0]), str(unpacked)], cwd=scratch_path)
        version = debs[0].name.split("_")[1]
        atomic_write_text(unpacked / MANIFEST, json.dumps({"package": package, "version": version}, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(unpacked, target)
    return target


def fetch_debian_packages(
    packages: Iterable[str] | None = None, cache: Path | None = None, force: bool = False
) -> dict:
    """Download and unpack ``packages`` (default: all of :data:`DEBIAN_PACKAGES`) into the cache.

    Already fetched packages are kept unless ``force``. Returns ``{package: folder}``.

    Raises:
        DataError: an unknown package, or apt-get / dpkg missing or failing (the message says what to do).
    """
    cache = cache or data_dir()
    wanted = list(packages) if packages is not None else list(DEBIAN_PACKAGES)
    unknown = [package for package in wanted if package not in DEBIAN_PACKAGES]
    if unknown:
        raise DataError(f"unknown data package(s) {unknown}; graphft reads: {', '.join(DEBIAN_PACKAGES)}.")
    (cache / "debian").mkdir(parents=True, exist_ok=True)
    folders = {}
    for package in wanted:
        root = cache / "debian" / package
        folders[package] = root if (root / MANIFEST).is_file() and not force else _fetch_one(package, cache)
    return folders
