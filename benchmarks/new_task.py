"""New-task benchmark: leave one task out, then compose an adapter for it from the others' modules.

For every held-out task, a graphft model is trained on the other tasks; the held-out task then gets 0, 32 or
128 labelled examples, and four ways of adapting to it are compared on its test split:

- ``graph``: :func:`graphft.compose.add_task` (descriptor -> graph node -> prior routing), then
  :func:`graphft.compose.fit_new_task` on the examples (its router logits and head only, full batch).
- ``uniform``: the uniform average of all K modules in every layer, with a head fitted on the frozen features
  (100 full-batch Adam steps, as for every fitted head below).
- ``lorahub``: LoraHub-style gradient-free search of one weight per module (shared by all layers, in
  [-1.5, 1.5], with LoraHub's L1 penalty) by optuna's CmaEsSampler, minimising the few-shot loss of a head
  fitted on the candidate's features; the best weights and their head are evaluated.
- ``scratch``: one LoRA (rank r) trained from scratch on the examples alone.

Zero-shot (0 examples): ``graph`` and ``uniform`` borrow the head of the known task with the same label space
whose descriptor is most similar (n/a without one); the descriptor reads 32 unlabelled inputs (its label
statistics assume balanced classes). ``lorahub`` and ``scratch`` need examples (n/a).

Run: ``python -m benchmarks.new_task --quick`` (planted tasks on a tiny BERT, under a minute) or
``python -m benchmarks.new_task --suite text-5`` (MiniLM). Writes ``results/new_task_<suite>.{json,md}``
(quick mode: ``new_task_quick``, a git-ignored smoke test).
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
from typing import Any

import optuna
import torch
from torch import Tensor
from torch.nn import functional

from benchmarks.common import metadata_markdown, write_results
from graphft.compose import add_task, fit_new_task
from graphft.config import AdapterConfig, GraphConfig, GraphFTConfig, TrainingConfig
from graphft.descriptors import task_descriptors
from graphft.heads import masked_mean_pool
from graphft.model import GraphFTModel
from graphft.provenance import run_metadata
from graphft.tasks.data import EncodedSplit, MultiTaskData, TaskData
from graphft.training import train

METHODS = ("graph", "uniform", "lorahub", "scratch")


def load_problem(args: argparse.Namespace) -> tuple[MultiTaskData, Any]:
    """The tasks and a factory of fresh backbones (same weights every call)."""
    if args.quick or args.suite == "planted":
        from graphft.backbones import tiny_backbone
        from graphft.tasks.planted import planted_problem

        eval_examples = 32 if args.quick else 128
        problem = planted_problem(
            2, 2, train_examples=160, few_shot_examples=160, eval_examples=eval_examples, seed=args.seed
        )
        return problem.data, lambda: tiny_backbone("bert", seed=args.seed)
    from graphft.backbones import load_backbone, load_tokenizer
    from graphft.tasks.suites import load_suite

    data = load_suite(args.suite, load_tokenizer("minilm"), 64, args.max_train, args.max_eval, args.seed)
    return data, lambda: load_backbone("minilm", num_hidden_layers=args.layers)


def shots_of(task: TaskData, count: int, seed: int) -> EncodedSplit:
    """The first ``count`` examples of a seeded shuffle of the task's training split."""
    order = torch.randperm(len(task.train), generator=torch.Generator().manual_seed(seed))
    return task.train.subset(order[: min(count, len(task.train))])


@torch.no_grad()
def composed_features(model: GraphFTModel, weights: Tensor, split: EncodedSplit, batch: int = 64) -> Tensor:
    """Pooled backbone features with fixed module weights (l, k) in every layer; returns (m, h)."""
    model.eval()
    pooled = []
    try:
        model.banks.set_module_weights({name: weights[i] for i, name in enumerate(model.layer_names)})
        for start in range(0, len(split), batch):
            ids, mask = split.input_ids[start : start + batch], split.attention_mask[start : start + batch]
            hidden = model.backbone(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
            pooled.append(masked_mean_pool(hidden, mask))
    finally:
        model.banks.set_module_weights(None)
    return torch.cat(pooled)


def fit_head(features: Tensor, labels: Tensor, classes: int, steps: int = 100) -> tuple[Tensor, Tensor, float]:
    """A linear head fitted with Adam on frozen features; returns weight (c, h), bias (c) and the final loss."""
    weight = torch.zeros(classes, features.shape[1], requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=0.05)
    for _ in range(steps):
        loss = functional.cross_entropy(features @ weight.T + bias, labels.long())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return weight.detach(), bias.detach(), float(loss.detach())


def accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((logits.argmax(dim=-1) == labels.long()).float().mean())


def borrowed_head(model: GraphFTModel, task: TaskData, features: Tensor) -> int | None:
    """The known task with the same label space whose standardised descriptor is most similar (None: none)."""
    candidates = [i for i, spec in enumerate(model.tasks) if spec.label_names == task.spec.label_names]
    if not candidates:
        return None
    standardised = (model.task_features - model.feature_mean) / model.feature_scale
    new = (features - model.feature_mean) / model.feature_scale
    similarity = functional.cosine_similarity(standardised[candidates], new[None], dim=-1)
    return candidates[int(similarity.argmax())]


def run_graph(trained: GraphFTModel, task: TaskData, shots: EncodedSplit | None, args: argparse.Namespace) -> float:
    model = copy.deepcopy(trained)
    if shots is None:
        unlabelled = task.train.subset(torch.arange(min(32, len(task.train))))
        classes = torch.arange(len(unlabelled)) % task.spec.num_labels
        probe = TaskData(task.spec, *(EncodedSplit(unlabelled.input_ids, unlabelled.attention_mask, classes),) * 3)
        features = task_descriptors(model.backbone, MultiTaskData([probe]), seed=args.seed)[0]
        source = borrowed_head(model, task, features)
        if source is None:
            return math.nan
        add_task(model, task.spec, task_features=features, share_head_with=model.task_names[source])
    else:
        add_task(model, task.spec, TaskData(task.spec, shots, shots, shots))
        fit_new_task(
            model, task.spec.name, shots, steps=args.fit_steps, batch_size=len(shots), lr_router=0.05, lr_head=0.05
        )
    model.eval()
    test = task.test
    with torch.no_grad():
        logits = model(test.input_ids, test.attention_mask, torch.full((len(test),), len(model.tasks) - 1)).logits
    assert logits is not None
    return accuracy(logits[:, : task.spec.num_labels], test.labels)


def run_uniform(trained: GraphFTModel, task: TaskData, shots: EncodedSplit | None, args: argparse.Namespace) -> float:
    weights = torch.full((len(trained.layer_names), trained.banks.num_modules), 1.0 / trained.banks.num_modules)
    test_features = composed_features(trained, weights, task.test)
    if shots is None:
        unlabelled = task.train.subset(torch.arange(min(32, len(task.train))))
        classes = torch.arange(len(unlabelled)) % task.spec.num_labels
        probe = TaskData(task.spec, *(EncodedSplit(unlabelled.input_ids, unlabelled.attention_mask, classes),) * 3)
        source = borrowed_head(trained, task, task_descriptors(trained.backbone, MultiTaskData([probe]))[0])
        if source is None:
            return math.nan
        width = task.spec.num_labels
        weight, bias = trained.heads.weight[source, :width].detach(), trained.heads.bias[source, :width].detach()
    else:
        weight, bias, _ = fit_head(composed_features(trained, weights, shots), shots.labels, task.spec.num_labels)
    return accuracy(test_features @ weight.T + bias, task.test.labels)


def run_lorahub(trained: GraphFTModel, task: TaskData, shots: EncodedSplit | None, args: argparse.Namespace) -> float:
    if shots is None:
        return math.nan
    k, layers = trained.banks.num_modules, len(trained.layer_names)

    def objective(trial: optuna.Trial) -> float:
        weights = torch.tensor([trial.suggest_float(f"w{i}", -1.5, 1.5) for i in range(k)])
        features = composed_features(trained, weights.expand(layers, k), shots)
        _, _, loss = fit_head(features, shots.labels, task.spec.num_labels)
        return loss + 0.05 * float(weights.abs().mean())  # LoraHub's L1 regulariser

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.CmaEsSampler(seed=args.seed))
    study.enqueue_trial({f"w{i}": 1.0 / k for i in range(k)})  # start from the uniform mix
    study.optimize(objective, n_trials=args.trials)
    best = torch.tensor([study.best_params[f"w{i}"] for i in range(k)]).expand(layers, k)
    weight, bias, _ = fit_head(composed_features(trained, best, shots), shots.labels, task.spec.num_labels)
    return accuracy(composed_features(trained, best, task.test) @ weight.T + bias, task.test.labels)


def run_scratch(backbone_factory: Any, task: TaskData, shots: EncodedSplit | None, args: argparse.Namespace) -> float:
    if shots is None:
        return math.nan
    config = GraphFTConfig(
        adapter=AdapterConfig(num_modules=1, rank=args.rank),
        graph=GraphConfig(learner="none"),
        training=TrainingConfig(steps=args.scratch_steps, batch_size=16, seed=args.seed, progress=False),
    )
    data = MultiTaskData([TaskData(task.spec, shots, task.validation, task.test)])
    model = GraphFTModel(backbone_factory(), [task.spec], config)
    train(model, data)
    test = task.test
    with torch.no_grad():
        logits = model.eval()(test.input_ids, test.attention_mask, torch.zeros(len(test), dtype=torch.long)).logits
    assert logits is not None
    return accuracy(logits, test.labels)


def train_on_others(
    data: MultiTaskData, held_out: int, backbone_factory: Any, args: argparse.Namespace
) -> GraphFTModel:
    """A graphft model trained on every task but ``held_out``."""
    others = MultiTaskData([task for i, task in enumerate(data.tasks) if i != held_out])
    backbone = backbone_factory()
    config = GraphFTConfig(
        adapter=AdapterConfig(num_modules=args.modules, rank=args.rank),
        training=TrainingConfig(steps=args.steps, batch_size=16, seed=args.seed, progress=False),
    )
    model = GraphFTModel(backbone, others.specs, config, task_features=task_descriptors(backbone, others))
    train(model, others)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="planted tasks, tiny BERT, few steps (< 60 s)")
    parser.add_argument("--suite", default="text-5", help="'text-5' (MiniLM) or 'planted' (tiny BERT)")
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 32, 128])
    parser.add_argument("--held-out", type=int, default=None, help="hold out only the first N tasks")
    parser.add_argument("--modules", type=int, default=8)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300, help="training steps on the known tasks")
    parser.add_argument("--fit-steps", type=int, default=100, help="fit_new_task steps (full batch)")
    parser.add_argument("--scratch-steps", type=int, default=100)
    parser.add_argument("--trials", type=int, default=40, help="CMA-ES trials of the LoraHub search")
    parser.add_argument("--layers", type=int, default=None, help="keep only the backbone's first layers")
    parser.add_argument("--max-train", type=int, default=512)
    parser.add_argument("--max-eval", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.suite, args.modules, args.steps, args.fit_steps, args.scratch_steps, args.trials = (
            "planted",
            4,
            20,
            15,
            15,
            6,
        )
        args.held_out = args.held_out or 2
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    data, backbone_factory = load_problem(args)
    held_out = range(min(args.held_out or len(data), len(data)))
    runs: list[dict[str, Any]] = []
    for index in held_out:
        task = data.tasks[index]
        began = time.perf_counter()
        trained = train_on_others(data, index, backbone_factory, args)
        print(f"trained on the tasks other than {task.spec.name} in {time.perf_counter() - began:.1f} s", flush=True)
        for count in args.shots:
            shots = None if count == 0 else shots_of(task, count, args.seed)
            record: dict[str, Any] = {"task": task.spec.name, "shots": count}
            for method, run in (("graph", run_graph), ("uniform", run_uniform), ("lorahub", run_lorahub)):
                began = time.perf_counter()
                record[method] = run(trained, task, shots, args)
                record[f"{method}_seconds"] = round(time.perf_counter() - began, 2)
            began = time.perf_counter()
            record["scratch"] = run_scratch(backbone_factory, task, shots, args)
            record["scratch_seconds"] = round(time.perf_counter() - began, 2)
            runs.append(record)
            print(record, flush=True)
    summary = {
        method: {str(count): _mean([r[method] for r in runs if r["shots"] == count]) for count in args.shots}
        for method in METHODS
    }
    settings = vars(args) | {"seconds": round(time.perf_counter() - start, 1)}
    meta = run_metadata(settings)
    lines = [
        "# New task: leave one task out\n",
        metadata_markdown(meta),
        "| method | " + " | ".join(f"{c} shots" for c in args.shots) + " |",
        "|---|" + "---|" * len(args.shots),
    ]
    for method in METHODS:
        cells = ["n/a" if math.isnan(summary[method][str(c)]) else f"{summary[method][str(c)]:.3f}" for c in args.shots]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append(
        f"\nMean test accuracy of the held-out task over {len(held_out)} held-out task(s); see the module "
        "docstring of benchmarks/new_task.py for the methods.\n"
    )
    if args.quick:
        lines.append(
            "Quick mode is a smoke test of the script (tiny random BERT, 20 training steps, 32 test examples per "
            "task): its accuracies are near chance and say nothing about the methods.\n"
        )
    name = "new_task_quick" if args.quick else f"new_task_{args.suite}"
    write_results(name, meta | {"runs": runs, "summary": summary}, "\n".join(lines))
    print("\n".join(lines))


def _mean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return statistics.mean(kept) if kept else math.nan


if __name__ == "__main__":
    main()
