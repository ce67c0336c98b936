"""Shared helpers of the benchmark scripts: interleaved timing and result files (run metadata comes from
:mod:`graphft.provenance`)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from graphft.io_atomic import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


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
