"""The main job: a real multi-task fine-tune of MiniLM-L6 on the text-9 suite (or text-5 without Debian data).

Run ``python -m graphft.demo [--steps N] [--output DIR]``. Prints per-task accuracy next to the majority
baseline, the learned relation matrix and the allocation per layer; writes PNG heatmaps, metrics and a
checkpoint to the output directory.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from graphft.backbones import load_backbone, load_tokenizer
from graphft.config import AdapterConfig, GraphFTConfig, TrainingConfig
from graphft.descriptors import task_descriptors
from graphft.errors import DataError
from graphft.evaluation import evaluate, majority_baseline
from graphft.io_atomic import atomic_write_text
from graphft.model import GraphFTModel
from graphft.plots import plot_allocations, plot_relation_matrix
from graphft.tasks.debian import DEBIAN_PACKAGES, debian_package_root
from graphft.tasks.suites import load_suite
from graphft.tasks.summary import format_summary, suite_summary
from graphft.training import train


def default_suite() -> str:
    """text-9 where the Debian-packaged corpora are fetched, else text-5 (saying why)."""
    try:
        for package in DEBIAN_PACKAGES:
            debian_package_root(package)
    except DataError:
        print("Debian-packaged corpora not fetched (run `graphft data fetch`): using the text-5 suite", flush=True)
        return "text-5"
    return "text-9"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="graphft demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=250, help="training steps (default 250)")
    parser.add_argument("--max-train", type=int, default=2000, help="training examples per task")
    parser.add_argument("--max-eval", type=int, default=300, help="validation and test examples per task")
    parser.add_argument("--layers", type=int, default=None, help="keep only the first backbone layers")
    parser.add_argument("--output", type=Path, default=Path("runs/demo"), help="run directory")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--suite",
        default=None,
        help="task suite: text-9 (default where `graphft data fetch` has run) or text-5 (PyPI data only)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    config = GraphFTConfig(
        backbone="minilm",
        num_hidden_layers=args.layers,
        adapter=AdapterConfig(num_modules=8, rank=8, target_modules=["query", "value"]),
        training=TrainingConfig(steps=args.steps, batch_size=32, max_length=64, seed=args.seed),
    )
    suite = args.suite or default_suite()
    print(f"loading the backbone and the {suite} suite ...", flush=True)
    tokenizer = load_tokenizer(config.backbone)
    backbone = load_backbone(config.backbone, config.num_hidden_layers)
    data = load_suite(suite, tokenizer, config.training.max_length, args.max_train, args.max_eval, args.seed)
    print(format_summary(suite_summary(data)), flush=True)
    print("computing task descriptors ...", flush=True)
    features = task_descriptors(backbone, data, config.graph.descriptor_examples)
    model = GraphFTModel(backbone, data.specs, config, task_features=features)
    print(f"trainable parameters: {model.num_trainable_parameters():,d}", flush=True)
    result = train(model, data)
    test = evaluate(model, data, "test")
    baseline = majority_baseline(data, "test")
    print(f"\n{'task':<16}{'accuracy':>10}{'macro-F1':>10}{'majority':>10}")
    for name in data.names:
        print(f"{name:<16}{test[name]['accuracy']:>10.3f}{test[name]['macro_f1']:>10.3f}{baseline[name]:>10.3f}")
    relation = model.relation_matrix()
    print("\nlearned relation matrix R:")
    print(" " * 16 + "".join(f"{name[:9]:>10}" for name in data.names))
    for name, row in zip(data.names, relation.tolist(), strict=True):
        print(f"{name:<16}" + "".join(f"{value:>10.3f}" for value in row))
    allocations = model.allocations()
    print("\nallocation per layer (active modules: weight):")
    for layer, layer_name in enumerate(model.layer_names):
        print(f"  {layer_name}")
        for task, name in enumerate(data.names):
            weights = allocations[task, layer]
            active = ", ".join(f"{k}:{float(w):.2f}" for k, w in enumerate(weights) if w > 0)
            print(f"    {name:<16}{active}")
    args.output.mkdir(parents=True, exist_ok=True)
    plot_relation_matrix(relation, data.names, args.output / "relation_matrix.png")
    plot_allocations(allocations, data.names, model.layer_names, args.output / "allocations.png")
    model.save_pretrained(args.output / "checkpoint")
    summary = {
        "test": test,
        "majority_baseline": baseline,
        "relation_matrix": relation.tolist(),
        "suite": suite,
        "task_names": data.names,
        "trainable_parameters": model.num_trainable_parameters(),
        "history": result.history,
        "seconds": time.perf_counter() - start,
        "config": config.to_dict(),
    }
    atomic_write_text(args.output / "metrics.json", json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {args.output}/relation_matrix.png, allocations.png, metrics.json and checkpoint/")
    print(f"total time: {summary['seconds']:.0f} s")
    return summary


if __name__ == "__main__":
    main()
