"""Shared helpers of the benchmark scripts: run metadata, interleaved timing, result files."""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from graphft.io_atomic import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ["torch", "transformers", "peft", "torch-geometric", "einops", "optuna", "graphft"]


def git_commit() -> str:
    """Commit of the working tree (with ``+dirty`` when it has uncommitted changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def run_metadata(settings: dict[str, Any]) -> dict[str, Any]:
    """Commit, package versions, machine and the run's settings, stored next to every result."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "versions": versions,
        "settings": settings,
    }


def interleaved_medians(steps: dict[str, Callable[[], None]], rounds: int, warmup: int = 2) -> dict[str, Any]:
    """Time each step function in turn (A B C A B C ...) and return per-name median seconds and all samples.

    Interleaving makes the ratios robust to a shared, noisy machine: every method sees the same drift.
    """
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(warmup + rounds):
        for name, step in steps.items():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            if round_index >= warmup:
                samples[name].append(time.perf_counter() - start)
    return {
        "median_s": {name: statistics.median(values) for name, values in samples.items()},
        "samples_s": samples,
    }


def write_results(name: str, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``results/<name>.json`` and ``results/<name>.md`` atomically; return both paths."""
    json_path, md_path = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    atomic_write_text(json_path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
    atomic_write_text(md_path, markdown)
    return json_path, md_path


def metadata_markdown(meta: dict[str, Any]) -> str:
    """A short markdown block with commit, date, versions and settings."""
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    settings = ", ".join(f"{k}={v}" for k, v in meta["settings"].items())
    return (
        f"- commit `{meta['commit']}`, {meta['date']}, Python {meta['python']}, "
        f"{meta['torch_threads']} torch threads, {meta['cuda'] or 'CPU'}\n"
        f"- versions: {versions}\n- settings: {settings}\n"
    )
