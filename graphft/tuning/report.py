"""Sensitivity results as files: a summary per knob, JSON, a markdown table, and a PNG of metric vs knob with the
spread over seeds. Every file is written atomically (:mod:`graphft.io_atomic`)."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from graphft.io_atomic import atomic_path, atomic_write_text
from graphft.tuning.knobs import Knob

__all__ = ["plot_sweeps", "save_figure", "summarise", "write_json", "write_markdown"]


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def summarise(records: list[dict[str, Any]], knobs: tuple[Knob, ...]) -> dict[str, Any]:
    """Per knob and value: mean, std, min, max of the metric over seeds and the number of diverged runs; per knob:
    ``effect`` (largest minus smallest mean over values) and ``worst_seed_std`` (largest std over values)."""
    summary: dict[str, Any] = {}
    for knob in knobs:
        rows = []
        for value in knob.values:
            runs = [r for r in records if r["knob"] == knob.name and r["value"] == value]
            metrics = _finite([r["metric"] for r in runs])
            rows.append(
                {
                    "value": value,
                    "runs": len(runs),
                    "diverged": sum(bool(r.get("diverged")) for r in runs),
                    "mean": statistics.mean(metrics) if metrics else math.nan,
                    "std": statistics.pstdev(metrics) if metrics else math.nan,
                    "min": min(metrics) if metrics else math.nan,
                    "max": max(metrics) if metrics else math.nan,
                    "seconds_per_step": statistics.mean(_finite([r.get("seconds_per_step", math.nan) for r in runs]))
                    if _finite([r.get("seconds_per_step", math.nan) for r in runs])
                    else math.nan,
                }
            )
        means = _finite([row["mean"] for row in rows])
        summary[knob.name] = {
            "default": knob.default,
            "values": rows,
            "effect": (max(means) - min(means)) if means else math.nan,
            "worst_seed_std": max(_finite([row["std"] for row in rows]), default=math.nan),
            "diverged": sum(row["diverged"] for row in rows),
        }
    return summary


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """``payload`` as indented JSON (NaN written as null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    atomic_write_text(path, json.dumps(clean(payload), indent=2, sort_keys=True) + "\n")


def _format(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.3f}"


def write_markdown(path: Path, title: str, payload: dict[str, Any]) -> None:
    """A markdown report: run metadata, knobs ranked by effect, and one row per knob value."""
    meta = payload["metadata"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    settings = ", ".join(f"{k}={v}" for k, v in meta["settings"].items())
    lines = [
        f"# {title}\n",
        f"- commit `{meta['commit']}`, {meta['date']}, Python {meta['python']}",
        f"- versions: {versions}",
        f"- settings: {settings}\n",
        "Metric: average test metric over tasks (accuracy for classification). Effect: largest minus smallest mean",
        "over the knob's values. Seed std: largest std over seeds at one value.\n",
        "| knob | effect | worst seed std | diverged runs |",
        "|---|---|---|---|",
    ]
    summary = payload["summary"]
    for name, knob in sorted(
        summary.items(), key=lambda item: -(item[1]["effect"] if math.isfinite(item[1]["effect"]) else -1)
    ):
        lines.append(f"| {name} | {_format(knob['effect'])} | {_format(knob['worst_seed_std'])} | {knob['diverged']} |")
    lines += [
        "",
        "| knob | value | mean | std | min | max | runs | diverged | s/step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, knob in summary.items():
        for row in knob["values"]:
            marker = " (default)" if row["value"] == knob["default"] else ""
            lines.append(
                f"| {name} | {row['value']}{marker} | {_format(row['mean'])} | {_format(row['std'])} | "
                f"{_format(row['min'])} | {_format(row['max'])} | {row['runs']} | {row['diverged']} | "
                f"{_format(row['seconds_per_step'])} |"
            )
    joint = payload.get("joint_study")
    if joint:
        lines += [
            "",
            f"## Joint study ({joint['trials']} trials, {joint['sampler']}, importance by {joint['evaluator']})\n",
            "| parameter | importance |",
            "|---|---|",
            *[f"| {k} | {v:.3f} |" for k, v in joint["importances"].items()],
            "",
            f"Best validation metric {_format(joint['best_value'])} at {joint['best_params']}.",
        ]
    atomic_write_text(path, "\n".join(lines) + "\n")


def save_figure(figure: Any, path: Path) -> None:
    """Save a matplotlib figure as PNG, atomically, and close it."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def plot_sweeps(path: Path, title: str, records: list[dict[str, Any]], knobs: tuple[Knob, ...]) -> None:
    """One panel per knob: every run as a dot, the mean over seeds as a line with a ±std band, the default dashed."""
    figure, axes = plt.subplots(1, len(knobs), figsize=(3.6 * len(knobs), 3.2), squeeze=False)
    for axis, knob in zip(axes[0], knobs, strict=True):
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in knob.values)
        positions = list(knob.values) if numeric else list(range(len(knob.values)))
        means, stds = [], []
        for position, value in zip(positions, knob.values, strict=True):
            metrics = _finite([r["metric"] for r in records if r["knob"] == knob.name and r["value"] == value])
            axis.scatter([position] * len(metrics), metrics, s=18, alpha=0.6, color="tab:blue", zorder=3)
            means.append(statistics.mean(metrics) if metrics else math.nan)
            stds.append(statistics.pstdev(metrics) if metrics else math.nan)
        axis.errorbar(positions, means, yerr=stds, color="tab:red", marker="o", capsize=3, label="mean ± std")
        if knob.default is not None and knob.default in knob.values:
            axis.axvline(positions[list(knob.values).index(knob.default)], color="grey", linestyle="--", linewidth=1)
        if numeric and knob.log:
            axis.set_xscale("log")
            axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xticks(positions, [str(v) for v in knob.values])
        axis.set_xlabel(knob.name)
        axis.set_ylabel("test metric (dots: seeds)")
    figure.suptitle(title)
    figure.tight_layout()
    save_figure(figure, path)
