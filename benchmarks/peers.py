"""Peer comparison: graphft against full fine-tuning, PEFT LoRA (shared / per task), PEFT Poly and MHR.

Same backbone (MiniLM-L6), data, splits, sequence length 64, sampler, optimizer, steps, batch size and seeds for
all eight methods (see :mod:`benchmarks.peer_methods`):

    full_ft              full fine-tuning, shared backbone, per-task heads
    shared_lora          one PEFT LoRA for all tasks
    per_task_lora        one PEFT LoRA per task (a mixed batch is grouped by task)
    poly, mhr            PEFT Poly (n_splits=1) and MHR (Poly with n_splits > 1)
    graphft_no_prior     graphft, GraphConfig(learner="none")
    graphft_fixed_prior  graphft, learner="fixed", prior R0 = descriptor cosine similarity
    graphft_learned      graphft, learned task graph (the default)

graphft's K and rank are chosen so that its trainable parameters (without the identical heads) stay <= per-task
LoRA's and Poly's (``graphft_budget``). Settings: the full training sets and low-resource variants with each
task's training set subsampled to 256 and 64 examples (stratified, seeded by the run's seed; validation and test
untouched). Reported: final-step test accuracy (no model selection; validation is not used) per task and on
average, mean ± std over seeds 0-2, the spread over 5 seeds for Poly and graphft (stability), the gradient
conflict (mean pairwise cosine of per-task gradients on the shared adapter parameters at the end of training),
train-step time relative to per-task LoRA, peak training memory (CPU RSS, fresh process per method) and
inference time with merged weights relative to the base model.

Run: ``nice python -m benchmarks.peers [--suite text-9] [--steps 150] [--batch-size 16]``; ``--quick`` for a
smoke run (2 tasks, MiniLM cut to 2 layers, a few steps, 1 seed, all 8 methods); ``--estimate`` times a few steps
of each method and prints the projected time of the configured comparison without training it. Each run writes
``results/peers/<suite>__<setting>__<method>__seed<k>.json``; existing files are skipped, so an interrupted
run resumes where it stopped. ``results/peers.md`` is regenerated from all JSON files at the end.

Time estimate and defaults (2 torch threads on this shared 2-core machine, MiniLM-L6, batch 16 x ~64 tokens;
``--estimate --estimate-tasks 9`` on text-5 at 22:18 UTC 2026-12-04, 1-min load ~2, 4 interleaved rounds):
median train step full_ft 0.44 s, shared_lora 0.28, per_task_lora 0.33 (5 tasks; ~0.4 expected with 9 tasks:
one group per task in the batch), poly 0.30, mhr 0.29, graphft (all three, K=4 at text-5's budget; 9 tasks
allow K=7, a few % slower per benchmarks/adapter_overhead.py) 0.29; an eval forward of 64 test
examples ~0.43 s (measured separately: the estimate's own inference timings overlapped a non-niced job and read
~3x slower). Per run with 9 tasks, 150 steps and 200 test examples per task: ~45-66 s training + ~12 s test
evaluation + ~5 s gradient conflict + ~3 s graphft descriptors, i.e. 59-79 s. The default comparison (84 runs)
then takes ~91 min, plus ~2-3 min for the speed/memory section and ~20 s loading: about 95 minutes on an
otherwise idle 2-core machine (longer while other jobs share it; the progress bar shows the real pace).
Hence the defaults: ``--steps 150 --batch-size 16 --max-eval 200`` (2,400 training examples per run: ~4 epochs
of the 64-example setting, ~1 of the 256 one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from benchmarks.common import RESULTS
from benchmarks.peer_measures import (
    first_task_batch,
    gradient_conflict,
    inference_times,
    mixed_batch,
    peak_training_memory,
    train_step_times,
)
from benchmarks.peer_methods import (
    GRAPHFT_LEARNERS,
    METHODS,
    PeerConfig,
    build_method,
    evaluate_method,
    graphft_budget,
    graphft_config,
    train_method,
)
from graphft.backbones import load_backbone, load_tokenizer
from graphft.config import RouterConfig, TrainingConfig
from graphft.errors import ConfigError, GraphFTError
from graphft.io_atomic import atomic_write_text
from graphft.provenance import run_metadata
from graphft.tasks.data import MultiTaskData, TaskData
from graphft.tasks.suites import SUITES, load_suite, load_task

CONFLICT_METHODS = ("shared_lora", "poly", "mhr", "graphft_no_prior", "graphft_fixed_prior", "graphft_learned")


# ------------------------------------------------------------------------------------------------------ data
def load_data(suite: str, max_eval: int, tasks: int | None) -> tuple[MultiTaskData, str]:
    """The suite's tasks (the first ``tasks`` of them), split with seed 0 for every run; falls back to 'text-5'
    only when ``suite`` cannot be loaded (text-9 is being added to graphft.tasks.load_suite)."""
    tokenizer = load_tokenizer("minilm")
    try:
        if tasks is None:
            return load_suite(suite, tokenizer, 64, None, max_eval, seed=0), suite
        names = SUITES[suite][:tasks]
        return MultiTaskData([load_task(name, tokenizer, 64, None, max_eval, seed=0) for name in names]), suite
    except (GraphFTError, KeyError) as exc:
        if suite == "text-5":
            raise
        warnings.warn(f"suite {suite!r} could not be loaded ({exc}); falling back to 'text-5'.", stacklevel=2)
        return load_data("text-5", max_eval, tasks)


def subsample(data: MultiTaskData, per_task: int | None, seed: int) -> MultiTaskData:
    """Each task's training set cut to ``per_task`` examples, stratified by label and seeded; others untouched."""
    if per_task is None:
        return data
    tasks = []
    for task in data.tasks:
        if len(task.train) <= per_task:
            tasks.append(task)
            continue
        labels = task.train.labels.tolist()
        keep, _ = train_test_split(range(len(labels)), train_size=per_task, random_state=seed, stratify=labels)
        indices = torch.tensor(sorted(keep))
        tasks.append(TaskData(task.spec, task.train.subset(indices), task.validation, task.test))
    return MultiTaskData(tasks)


def setting_size(setting: str) -> int | None:
    return None if setting == "full" else int(setting.removeprefix("n"))


# ---------------------------------------------------------------------------------------------------- runner
def plan_runs(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """(setting, method, seed) of every run: ``--seeds`` seeds, ``--stability-seeds`` for the stability methods.

    Seed-major: every setting and method gets seed 0 before any gets seed 1, so a run stopped early still
    compares all methods on the same seeds.
    """
    runs = []
    for seed in range(max(args.seeds, args.stability_seeds)):
        for setting in args.settings:
            for method in args.methods:
                seeds = args.stability_seeds if method in args.stability_methods else args.seeds
                if seed < seeds:
                    runs.append((setting, method, seed))
    return runs


def run_path(output: Path, suite: str, setting: str, method: str, seed: int) -> Path:
    return output / f"{suite}__{setting}__{method}__seed{seed}.json"


RESUME_KEYS = ("tasks", "steps", "batch_size", "max_length", "max_eval", "layers", "training", "peer")


def graphft_defaults(
    method: str, peer: PeerConfig, training: TrainingConfig, router: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The graphft config a graphft method's runs are made with (without the data-derived fixed prior), so a
    change of graphft's defaults is caught on resume like a change of the settings; None for other methods."""
    if method not in GRAPHFT_LEARNERS:
        return None
    placeholder = torch.zeros(1, 1)  # the fixed prior comes from the data and is not part of the defaults
    config = graphft_config(method, peer, training, placeholder, router).to_dict()
    config.pop("training")
    config["graph"].pop("prior_relation_matrix")
    return config


def check_resumable(
    output: Path,
    suite: str,
    done: list[tuple[str, str, int]],
    settings: dict[str, Any],
    peer: PeerConfig,
    router: dict[str, Any] | None = None,
) -> None:
    """Refuse to resume over runs made with other settings or graphft defaults (they would be skipped and mixed
    into the table)."""
    training = TrainingConfig(**settings["training"])
    expected = {method: graphft_defaults(method, peer, training, router) for method in {run[1] for run in done}}
    for run in done:
        record = json.loads(run_path(output, suite, *run).read_text())
        stored = record["settings"]
        changed = [key for key in RESUME_KEYS if stored.get(key) != settings[key]]
        if record.get("graphft_config") != expected[run[1]]:
            changed.append("graphft defaults")
        if changed:
            raise SystemExit(
                f"{run_path(output, suite, *run)} was made with other settings ({', '.join(changed)}); pass "
                "another --output, or delete the old files to rerun them."
            )


def training_config(args: argparse.Namespace, seed: int) -> TrainingConfig:
    return TrainingConfig(steps=args.steps, batch_size=args.batch_size, max_length=64, seed=seed, progress=False)


def run_one(
    args: argparse.Namespace, data: MultiTaskData, setting: str, method_name: str, seed: int, peer: PeerConfig
) -> dict[str, Any]:
    """Train and evaluate one method on one setting and seed; returns the JSON record (without metadata)."""
    run_data = subsample(data, setting_size(setting), seed)
    training = training_config(args, seed)
    start = time.perf_counter()
    method = build_method(method_name, run_data, peer, training, router=args.graphft_router)
    build_seconds = time.perf_counter() - start
    train_info = train_method(method, run_data, training)
    test = evaluate_method(method, run_data, "test")
    conflict = gradient_conflict(method, run_data) if method_name in CONFLICT_METHODS else {}
    return {
        "setting": setting,
        "method": method_name,
        "seed": seed,
        "tasks": run_data.names,
        "train_sizes": run_data.sizes("train"),
        "test_sizes": run_data.sizes("test"),
        "parameters": method.parameter_counts(training),
        "build_seconds": build_seconds,
        **train_info,
        "seconds": time.perf_counter() - start,
        "test": test,
        "average_accuracy": test["average"]["accuracy"],
        "gradient_conflict": conflict,
        "graphft_config": graphft_defaults(method_name, peer, training, args.graphft_router),
    }


def speed_section(args: argparse.Namespace, data: MultiTaskData, peer: PeerConfig) -> dict[str, Any]:
    """Train-step times (vs per-task LoRA), inference times (vs the base model) and peak training memory."""
    training = training_config(args, 0)
    load_before = os.getloadavg()  # the machine is shared: record how busy it was
    build_seconds, methods = {}, {}
    for name in args.methods:
        start = time.perf_counter()
        methods[name] = build_method(name, data, peer, training)
        build_seconds[name] = time.perf_counter() - start
    train_batch = mixed_batch(data, training)
    steps = train_step_times(methods, train_batch, training, rounds=args.speed_rounds)
    median = steps["median_s"]
    reference = median.get("per_task_lora")
    eval_batch = first_task_batch(data, 64)
    inference = inference_times(methods, eval_batch, args.layers, rounds=args.speed_rounds)
    memory = {}
    if args.memory:
        small = subsample(data, 64, 0)
        for name in args.methods:
            memory[name] = peak_training_memory(name, small, peer, training, train_batch)
    return {
        "train_step_median_s": median,
        "train_step_samples_s": steps["samples_s"],
        "train_step_cpu_median_s": steps["cpu_median_s"],
        "train_step_ratio_vs_per_task_lora": {k: v / reference for k, v in median.items()} if reference else {},
        "train_batch_shape": list(train_batch["input_ids"].shape),
        "inference": inference,
        "inference_batch_shape": list(eval_batch["input_ids"].shape),
        "memory": memory,
        "build_seconds": build_seconds,
        "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        "cpu_count": os.cpu_count(),
    }


def estimate_seconds(args: argparse.Namespace, data: MultiTaskData, speed: dict[str, Any]) -> dict[str, Any]:
    """Projected wall time of the planned runs from the step, eval and build times measured now (so only as
    good as the machine is quiet: see ``load_average_1min``). ``--estimate-tasks`` scales the per-task parts
    (evaluation, gradient conflict, descriptors) to a suite of that many tasks; the train step is taken as
    measured (mixed batches cost about the same for any number of tasks, except per-task LoRA, which runs one
    group per task present and so is underestimated when projecting to more tasks)."""
    scale = (args.estimate_tasks or len(data)) / len(data)
    eval_batches = scale * sum((size + 63) // 64 for size in data.sizes("test"))
    per_run = {}
    for name in args.methods:
        step = speed["train_step_median_s"][name]
        evaluation = eval_batches * speed["inference"]["unmerged_s"][name]
        conflict = scale * len(data) * step * 32 / args.batch_size if name in CONFLICT_METHODS else 0.0
        build = speed["build_seconds"][name] * (scale if name.startswith("graphft") else 1.0)
        per_run[name] = build + args.steps * step + evaluation + conflict
    runs = plan_runs(args)
    total = sum(per_run[method] for _, method, _ in runs)
    return {"runs": len(runs), "tasks": round(scale * len(data)), "per_run_s": per_run, "total_runs_s": total}


def parse_router(text: str, neighbour_prior: bool) -> dict[str, Any]:
    """RouterConfig overrides from 'field=value,...' (values parsed as JSON, else kept as strings), checked by
    building a RouterConfig; ``neighbour_prior`` adds neighbour_prior=True."""
    router: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        field, sep, value = item.partition("=")
        if not sep or field not in RouterConfig.__dataclass_fields__:
            fields = ", ".join(RouterConfig.__dataclass_fields__)
            raise ValueError(f"--graphft-router takes field=value pairs of RouterConfig ({fields}), got {item!r}.")
        try:
            router[field] = json.loads(value)
        except json.JSONDecodeError:
            router[field] = value
    if neighbour_prior:
        router["neighbour_prior"] = True
    RouterConfig(**router)  # raises ConfigError on bad values
    return router


def ablation_suffix(router: dict[str, Any]) -> str:
    """The results folder suffix of a router ablation ('' for the defaults)."""
    if router == {"neighbour_prior": True}:
        return "-neighbour-prior"
    if not router:
        return ""
    return "-router-" + "-".join(f"{key}-{value}" for key, value in sorted(router.items())).replace("_", "-")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="text-9", help="task suite (falls back to text-5 if it cannot load)")
    parser.add_argument("--tasks", type=int, default=None, help="use only the suite's first tasks")
    parser.add_argument("--settings", default="full,n256,n64", help="'full' and/or nN (N training examples/task)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of the methods")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method (0..seeds-1)")
    parser.add_argument("--stability-seeds", type=int, default=5, help="seeds for the stability methods")
    parser.add_argument("--stability-methods", default="poly,graphft_learned")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-eval", type=int, default=200, help="validation/test examples per task")
    parser.add_argument("--layers", type=int, default=None, help="keep only MiniLM's first layers")
    parser.add_argument("--skills", type=int, default=8, help="Poly/MHR n_skills")
    parser.add_argument("--splits", type=int, default=4, help="MHR n_splits")
    parser.add_argument("--speed-rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--no-speed", dest="speed", action="store_false", help="skip timing and memory")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the memory processes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="folder of the per-run JSON files (default results/peers, "
        "results/peers-quick with --quick: quick runs must never be resumed as real ones)",
    )
    parser.add_argument(
        "--graphft-neighbour-prior",
        action="store_true",
        help="ablation: graphft with RouterConfig.neighbour_prior=True (default output results/peers-neighbour-prior)",
    )
    parser.add_argument(
        "--graphft-router",
        default="",
        help="ablation: override graphft's RouterConfig fields, e.g. 'relaxation=softmax,gating_threshold=0' "
        "(values read as JSON, else as strings; default output results/peers-router-<fields>)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 tasks, 2 layers, 3 steps, 1 seed")
    parser.add_argument("--estimate", action="store_true", help="time each method and project the total; no runs")
    parser.add_argument(
        "--no-runs", dest="runs", action="store_false", help="run no training runs: speed/memory and the report only"
    )
    parser.add_argument("--estimate-tasks", type=int, default=None, help="project --estimate to this many tasks")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.layers, args.steps, args.batch_size, args.max_eval = 2, 2, 3, 8, 32
        args.seeds, args.stability_seeds, args.settings, args.speed_rounds = 1, 1, "n64", 2
    try:
        args.graphft_router = parse_router(args.graphft_router, args.graphft_neighbour_prior)
    except (ValueError, ConfigError) as exc:
        parser.error(str(exc))
    if args.output is None:
        name = "peers-quick" if args.quick else "peers"
        args.output = RESULTS / (name + ablation_suffix(args.graphft_router))
    args.settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.stability_methods = [m.strip() for m in args.stability_methods.split(",") if m.strip()]
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    for setting in args.settings:
        if setting != "full" and not (setting.startswith("n") and setting[1:].isdigit()):
            parser.error(f"unknown setting {setting!r}; use 'full' or nN, e.g. n64")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    data, suite = load_data(args.suite, args.max_eval, args.tasks)
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    peer = PeerConfig(skills=args.skills, splits=args.splits, layers=args.layers)
    budget = graphft_budget(data, peer, load_backbone("minilm", args.layers))
    peer.graphft_modules, peer.graphft_rank = budget["graphft_modules"], budget["graphft_rank"]
    settings = {
        "suite": suite,
        "requested_suite": args.suite,
        "tasks": data.names,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "max_length": 64,
        "max_eval": args.max_eval,
        "layers": args.layers,
        "training": {k: v for k, v in training_config(args, 0).to_dict().items() if k != "seed"},
        "peer": peer.to_dict(),
        "graphft_budget": budget,
    }
    meta = run_metadata(settings)
    speed_path = output / f"{suite}__speed.json"
    if args.estimate:
        speed = meta | speed_section(args, data, peer)
        estimate = estimate_seconds(args, data, speed)
        atomic_write_text(output / f"{suite}__estimate.json", json.dumps(speed | estimate, indent=2) + "\n")
        print(json.dumps(estimate, indent=2))
        return estimate
    runs = plan_runs(args)
    pending = [run for run in runs if not run_path(output, suite, *run).exists()]
    done = [run for run in runs if run not in pending]
    check_resumable(output, suite, done, settings, peer, args.graphft_router)
    if not args.runs:
        pending = []
    progress = tqdm(total=len(runs), initial=len(runs) - len(pending), desc="peers", dynamic_ncols=True)
    for setting, method, seed in pending:
        progress.set_postfix_str(f"{setting} {method} seed {seed}")
        record = run_metadata(settings) | run_one(args, data, setting, method, seed, peer)  # commit and date now
        atomic_write_text(run_path(output, suite, setting, method, seed), json.dumps(record, indent=2) + "\n")
        progress.update()
    progress.close()
    if args.speed and not speed_path.exists():
        atomic_write_text(speed_path, json.dumps(meta | speed_section(args, data, peer), indent=2) + "\n")
    from benchmarks.peer_report import write_report

    markdown_path = write_report(output, suite)
    print(f"wrote {len(pending)} new runs to {output} and {markdown_path}", file=sys.stderr)
    return {"output": str(output), "markdown": str(markdown_path), "suite": suite, "runs": len(runs)}


if __name__ == "__main__":
    main()
