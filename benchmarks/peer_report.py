"""The markdown report of the peers benchmark, generated from its per-run JSON files (never typed by hand)."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import metadata_markdown
from benchmarks.peer_methods import METHODS
from graphft.config import RouterConfig
from graphft.io_atomic import atomic_write_text


def _mean_std(values: list[float]) -> str:
    if not values:
        return "n/a"
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {std:.3f}"


def _load(output: Path, suite: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    runs = [json.loads(path.read_text()) for path in sorted(output.glob(f"{suite}__*__seed*.json"))]
    speed_path = output / f"{suite}__speed.json"
    speed = json.loads(speed_path.read_text()) if speed_path.exists() else None
    return runs, speed


def write_report(output: Path, suite: str, main_seeds: int = 3) -> Path:
    """Write ``<output>.md`` (next to the folder of JSON files) from every run of ``suite``; returns its path."""
    runs, speed = _load(output, suite)
    path = output.parent / f"{output.name}.md"
    atomic_write_text(path, render(runs, speed, suite, main_seeds))
    return path


def render(runs: list[dict[str, Any]], speed: dict[str, Any] | None, suite: str, main_seeds: int = 3) -> str:
    defaults = RouterConfig().to_dict()
    changed = {
        key: value
        for run in runs
        for key, value in ((run.get("graphft_config") or {}).get("router") or {}).items()
        if defaults.get(key, value) != value
    }
    title = f"Peer comparison on {suite} (MiniLM-L6)"
    if changed:  # an ablation: see peers --graphft-router / --graphft-neighbour-prior
        fields = ", ".join(f"{key}={value!r}" for key, value in sorted(changed.items()))
        title = f"Ablation on {suite}: graphft with RouterConfig({fields})"
    lines = [f"# {title}\n"]
    if not runs:
        return "\n".join([*lines, "No runs yet.\n"])
    lines.append(metadata_markdown(runs[-1]))
    commits = sorted({run["commit"] for run in runs})
    variants = sorted({(run["settings"]["steps"], run["settings"]["batch_size"]) for run in runs})
    lines.append(f"- runs: {len(runs)}, from commits {', '.join(commits)}")
    if len(variants) > 1:
        lines.append(f"- WARNING: runs with different (steps, batch size): {variants}; delete stale JSON files")
    budget = runs[-1]["settings"]["graphft_budget"]
    lines.append(
        f"- graphft budget: K={budget['graphft_modules']}, r={budget['graphft_rank']} -> {budget['graphft']:,d} "
        f"trainable parameters without heads, <= per-task LoRA {budget['per_task_lora']:,d} and Poly "
        f"{budget['poly']:,d}\n"
    )
    settings = list(dict.fromkeys(run["setting"] for run in runs))
    methods = [m for m in METHODS if any(run["method"] == m for run in runs)]
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_key[run["setting"], run["method"]].append(run)

    def main_runs(setting: str, method: str) -> list[dict[str, Any]]:
        return [r for r in by_key[setting, method] if r["seed"] < main_seeds]

    ratio = (speed or {}).get("train_step_ratio_vs_per_task_lora", {})
    header = ["method", "params (no heads)", *settings, "step / per-task LoRA"]
    lines += [
        f"## Average test accuracy (mean ± std over seeds 0-{main_seeds - 1})\n",
        "| " + " | ".join(header) + " |",
        "|---" * len(header) + "|",
    ]
    for method in methods:
        params = [r for key, rs in by_key.items() if key[1] == method for r in rs]
        count = params[0]["parameters"]["trainable_without_heads"] if params else 0
        cells = []
        for setting in settings:
            values = [r["average_accuracy"] for r in main_runs(setting, method)]
            missing = f" ({len(values)} of {main_seeds} seeds)" if 0 < len(values) < main_seeds else ""
            cells.append(_mean_std(values) + missing)
        step = f"{ratio[method]:.2f}" if method in ratio else "n/a"
        lines.append(f"| {method} | {count:,d} | " + " | ".join(cells) + f" | {step} |")

    stability = [m for m in methods if any(r["seed"] >= main_seeds for s in settings for r in by_key[s, m])]
    if stability:
        lines += [
            "\n## Stability: average test accuracy over all seeds (mean ± std [min, max], seeds)\n",
            "| method | " + " | ".join(settings) + " |",
            "|---" * (len(settings) + 1) + "|",
        ]
        for method in stability:
            cells = []
            for setting in settings:
                values = [r["average_accuracy"] for r in by_key[setting, method]]
                cells.append(
                    f"{_mean_std(values)} [{min(values):.3f}, {max(values):.3f}], {len(values)}" if values else "n/a"
                )
            lines.append(f"| {method} | " + " | ".join(cells) + " |")

    conflict = [m for m in methods if any(r["gradient_conflict"] for s in settings for r in by_key[s, m])]
    if conflict:
        lines += [
            "\n## Gradient conflict: mean pairwise cosine of per-task gradients on shared adapter parameters\n",
            "| method | " + " | ".join(settings) + " |",
            "|---" * (len(settings) + 1) + "|",
        ]
        for method in conflict:
            cells = [
                _mean_std(
                    [r["gradient_conflict"]["mean_cosine"] for r in main_runs(s, method) if r["gradient_conflict"]]
                )
                for s in settings
            ]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append(
            "\nAt the end of training, eval mode, 2 fixed batches of 16 training examples per task; mean ± std over "
            "seeds. Lower (or negative) means the tasks pull the shared parameters in more different directions; "
            "graphft tasks on disjoint paths have orthogonal gradients (cosine 0)."
        )

    if speed:
        inference = speed["inference"]
        memory = speed.get("memory", {})
        load = speed.get("load_average_1min", {})
        lines += [
            "\n## Speed and memory\n",
            f"- train step: batch {speed['train_batch_shape']} (mixed tasks), forward + backward + AdamW, medians "
            f"of {len(next(iter(speed['train_step_samples_s'].values())))} interleaved rounds; commit "
            f"`{speed['commit']}`",
            f"- inference: eval-mode forward on a one-task batch {speed['inference_batch_shape']}, relative to the "
            "plain MiniLM forward timed interleaved in the same pass; merged = the task's adapter folded into the "
            "weights (graphft: its deterministic path via AdapterBanks.merge; LoRA: PEFT merge_adapter; PEFT has "
            "no merge for Poly/MHR)",
            "- memory: peak RSS during 3 training steps minus RSS just before them, each method in a fresh "
            "process (CPU has no allocator statistics; includes allocator slack)",
            f"- machine load (1-min average) before / after timing: {load.get('before', float('nan')):.1f} / "
            f"{load.get('after', float('nan')):.1f} on {speed.get('cpu_count')} cores (ratios are interleaved, "
            "absolute seconds depend on the load)\n",
            "| method | step (s) | step / per-task LoRA | train memory (MiB) | inference / base | merged / base |",
            "|---|---|---|---|---|---|",
        ]
        for method in speed["train_step_median_s"]:
            merged = inference["merged_ratio"].get(method)
            mem = memory.get(method, {}).get("train_peak_mib")
            lines.append(
                f"| {method} | {speed['train_step_median_s'][method]:.3f} | "
                f"{speed['train_step_ratio_vs_per_task_lora'].get(method, float('nan')):.2f} | "
                f"{'n/a' if mem is None else f'{mem:.0f}'} | {inference['unmerged_ratio'][method]:.2f} | "
                f"{'n/a' if merged is None else f'{merged:.2f}'} |"
            )

    lines += [f"\n## Per-task test accuracy (mean over seeds 0-{main_seeds - 1})\n"]
    tasks = runs[-1]["tasks"]
    for setting in settings:
        lines += [f"\n### {setting}\n", "| method | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]
        for method in methods:
            selected = main_runs(setting, method)
            if not selected:
                continue
            cells = [f"{statistics.mean(r['test'][t]['accuracy'] for r in selected):.3f}" for t in tasks]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        f"\n## Seed spread per task: std of test accuracy over seeds 0-{main_seeds - 1}, averaged over methods\n",
        "| task | " + " | ".join(settings) + " |",
        "|---" * (len(settings) + 1) + "|",
    ]
    for task in tasks:
        cells = []
        for setting in settings:
            spreads = [
                statistics.pstdev(r["test"][task]["accuracy"] for r in main_runs(setting, method))
                for method in methods
                if len(main_runs(setting, method)) > 1
            ]
            cells.append(f"{statistics.mean(spreads):.3f}" if spreads else "n/a")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines.append(
        "\nHow much a task's accuracy moves between seeds of one method; the seed std of the average over tasks "
        "is in the first table. Per-task differences between methods smaller than this are not resolved."
    )
    return "\n".join(lines) + "\n"
