"""Measurements of the peers benchmark beyond accuracy: gradient conflict, train-step time, inference time with
merged weights, and peak training memory.

Axis legend: b batch, t tasks, p flattened shared adapter parameters.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional

from benchmarks.common import interleaved_medians
from benchmarks.peer_methods import (
    Batch,
    GraphFTMethod,
    HeadsMethod,
    PeerConfig,
    PeerMethod,
    build_method,
    build_optimizer,
    train_step,
)
from graphft.backbones import load_backbone
from graphft.config import TrainingConfig
from graphft.heads import masked_mean_pool
from graphft.tasks.data import MultiTaskData
from graphft.tasks.sampling import MultiTaskSampler


def gradient_conflict(method: PeerMethod, data: MultiTaskData, batches: int = 2, batch_size: int = 16) -> dict:
    """Mean pairwise cosine similarity of per-task gradients on the shared adapter parameters.

    For each task t, ``g_t`` is the gradient of its mean task loss (no regularisers) over ``batches`` fixed
    batches of its training data (the first examples of a seed-0 permutation), in eval mode (no dropout,
    deterministic routing). Reports :math:`\\frac{2}{t(t-1)} \\sum_{i<j} \\cos(g_i, g_j)`, the fraction of
    negative pairs and the (t, t) cosine matrix. Returns ``{}`` for methods with no shared adapter parameters.
    """
    shared = method.shared_adapter_parameters()
    if not shared:
        return {}
    method.train(False)
    generator = torch.Generator().manual_seed(0)
    gradients = []
    for task_id, task in enumerate(data.tasks):
        order = torch.randperm(len(task.train), generator=generator)[: batches * batch_size]
        for parameter in shared:
            parameter.grad = None
        for chunk in order.split(batch_size):
            task_ids = torch.full((len(chunk),), task_id, dtype=torch.long)
            _, _, task_loss = method.forward(data.batch("train", task_ids, chunk))
            (task_loss * len(chunk) / len(order)).backward()
        gradients.append(torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in shared]))
    for parameter in shared:
        parameter.grad = None
    stacked = functional.normalize(torch.stack(gradients), dim=1)  # (t, p)
    cosine = stacked @ stacked.T
    pairs = torch.triu_indices(len(data), len(data), offset=1)
    values = cosine[pairs[0], pairs[1]]
    return {
        "mean_cosine": float(values.mean()) if values.numel() else float("nan"),
        "fraction_negative": float((values < 0).float().mean()) if values.numel() else float("nan"),
        "cosine_matrix": cosine.tolist(),
    }


def train_step_times(
    methods: dict[str, PeerMethod], batch: Batch, training: TrainingConfig, rounds: int, warmup: int = 1
) -> dict[str, Any]:
    """Median seconds of one training step (forward, backward, AdamW) of each method on the same batch,
    timed interleaved (A B C A B C ...) so every method sees the same machine load; also the median process
    CPU seconds per step (``cpu_median_s``, all threads together)."""
    steps: dict[str, Callable[[], None]] = {}
    cpu_samples: dict[str, list[float]] = {name: [] for name in methods}
    for name, method in methods.items():
        optimizer = build_optimizer(method, training)
        method.train()

        def step(name: str = name, method: PeerMethod = method, optimizer: torch.optim.Optimizer = optimizer) -> None:
            start = time.process_time()
            method.before_step(0, training.steps)
            train_step(method, optimizer, batch, training.grad_clip)
            cpu_samples[name].append(time.process_time() - start)

        steps[name] = step
    timing = interleaved_medians(steps, rounds=rounds, warmup=warmup)
    for method in methods.values():
        method.train(False)
    # CPU seconds of all threads: on a busy shared machine wall time inflates, CPU time much less so.
    timing["cpu_median_s"] = {name: statistics.median(values[warmup:]) for name, values in cpu_samples.items()}
    return timing


def _encoder_forward(method: PeerMethod, batch: Batch) -> Callable[[], None]:
    """Eval-mode forward to pooled features and logits of ``method`` (merged or not)."""

    def forward() -> None:
        with torch.no_grad():
            method.forward(batch)

    return forward


def _merged_forward(method: PeerMethod, batch: Batch) -> Callable[[], None]:
    """Forward through the merged backbone + pooling + heads, with no adapter or routing work left."""
    if isinstance(method, GraphFTMethod):
        encoder, heads = method.model.backbone, method.model.heads  # banks are merged: they are bypassed
    else:
        assert isinstance(method, HeadsMethod)
        encoder, heads = method.encoder.base_model, method.heads  # merged PEFT layers skip their adapters

    def forward() -> None:
        with torch.no_grad():
            hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            heads(masked_mean_pool(hidden.last_hidden_state, batch["attention_mask"]), batch["task_ids"])

    return forward


def merge_for_task(method: PeerMethod, task_id: int) -> bool:
    """Fold ``task_id``'s adapter into the base weights where the method supports it; returns whether it did.

    graphft: the task's deterministic path (``model.allocations()[task]``, one (k) vector per layer) goes to
    ``AdapterBanks.merge``. Shared / per-task LoRA: PEFT's ``merge_adapter`` (per-task LoRA activates the task's
    adapter first). Poly / MHR: PEFT implements no merge for Poly layers, so they are timed unmerged only.
    """
    if isinstance(method, GraphFTMethod):
        model = method.model
        allocations = model.allocations()[task_id]  # (l, k)
        model.banks.merge({name: allocations[index] for index, name in enumerate(model.layer_names)})
        return True
    if isinstance(method, HeadsMethod) and method.name in ("shared_lora", "per_task_lora"):
        peft_model = method.encoder
        if method.name == "per_task_lora":
            peft_model.base_model.set_adapter(method.adapter_names[task_id])  # type: ignore[attr-defined]
        peft_model.base_model.merge_adapter()  # type: ignore[union-attr,operator]
        return True
    return False


def inference_times(
    methods: dict[str, PeerMethod], batch: Batch, layers: int | None, rounds: int, warmup: int = 1
) -> dict[str, Any]:
    """Eval-mode inference time relative to the plain base model on a one-task batch: each method as trained
    (unmerged), then, where it can merge, with its adapter folded into the weights for that task.

    Both passes time the base model (MiniLM forward + mean pooling) interleaved with the methods, so each
    ratio compares numbers measured side by side.
    """
    base = load_backbone("minilm", layers)

    def base_forward() -> None:
        with torch.no_grad():
            masked_mean_pool(
                base(**{k: batch[k] for k in ("input_ids", "attention_mask")}).last_hidden_state,
                batch["attention_mask"],
            )

    for method in methods.values():
        method.train(False)
    unmerged = interleaved_medians(
        {"base": base_forward, **{name: _encoder_forward(m, batch) for name, m in methods.items()}}, rounds, warmup
    )["median_s"]
    task_id = int(batch["task_ids"][0])
    merged_steps: dict[str, Callable[[], None]] = {"base": base_forward}
    for name, method in methods.items():
        if merge_for_task(method, task_id):
            merged_steps[name] = _merged_forward(method, batch)
    merged = interleaved_medians(merged_steps, rounds, warmup)["median_s"]
    return {
        "unmerged_s": unmerged,
        "merged_s": merged,
        "unmerged_ratio": {name: unmerged[name] / unmerged["base"] for name in methods},
        "merged_ratio": {name: merged[name] / merged["base"] for name in merged_steps if name != "base"},
    }


def _status_mib(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS: resident now, VmHWM: peak resident) in MiB.

    VmHWM belongs to the address space, which exec replaces, so a spawned process starts its own (unlike
    getrusage's ru_maxrss, which Linux carries over from the parent across fork + exec).
    """
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise OSError(f"/proc/self/status has no {field} line")


def _memory_child(
    name: str,
    data: MultiTaskData,
    peer: PeerConfig,
    training: TrainingConfig,
    batch: Batch,
    steps: int,
    threads: int,
    queue: Any,
) -> None:
    torch.set_num_threads(threads)
    method = build_method(name, data, peer, training)
    optimizer = build_optimizer(method, training)
    method.train()
    try:  # reset the peak to the current resident size, so loading transients do not count
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        reset = True
    except OSError:
        reset = False
    before = _status_mib("VmRSS")
    for _ in range(steps):
        method.before_step(0, training.steps)
        train_step(method, optimizer, batch, training.grad_clip)
    peak = _status_mib("VmHWM")
    queue.put({"rss_before_mib": before, "peak_rss_mib": peak, "train_peak_mib": peak - before, "peak_reset": reset})


def peak_training_memory(
    name: str, data: MultiTaskData, peer: PeerConfig, training: TrainingConfig, batch: Batch, steps: int = 3
) -> dict[str, float]:
    """Peak memory of training ``name`` on CPU, in a fresh spawned process (so no memory freed by an earlier
    method is reused without showing up in RSS).

    Reports the peak RSS during ``steps`` training steps (VmHWM, reset to the current RSS just before them via
    /proc/self/clear_refs) minus the RSS just before them (model built, optimizer created, no step taken):
    activations, gradients and AdamW state. On CPU torch has no allocator statistics, so RSS is the honest
    measure; it includes allocator slack.
    """
    context = multiprocessing.get_context("spawn")  # fork after OpenMP use hangs the child
    queue = context.Queue()
    arguments = (name, data, peer, training, batch, steps, torch.get_num_threads(), queue)
    process = context.Process(target=_memory_child, args=arguments)
    start = time.perf_counter()
    process.start()
    try:
        result: dict[str, float] = queue.get(timeout=600)
    finally:
        process.join(timeout=60)
    result["seconds"] = time.perf_counter() - start
    return result


def first_task_batch(data: MultiTaskData, size: int) -> Batch:
    """The first ``size`` test examples of task 0, collated (the inference timing batch)."""
    size = min(size, len(data[0].test))
    return data.batch("test", torch.zeros(size, dtype=torch.long), torch.arange(size))


def mixed_batch(data: MultiTaskData, training: TrainingConfig) -> Batch:
    """One mixed-task training batch from the seeded multi-task sampler (the train-step timing batch)."""
    sampler = MultiTaskSampler(data.sizes("train"), training.batch_size, training.task_sampling_temperature, 0)
    task_ids, indices = sampler.next_batch()
    return data.batch("train", task_ids, indices)


def tensor_sizes(batch: Batch) -> dict[str, list[int]]:
    return {key: list(value.shape) for key, value in batch.items() if isinstance(value, Tensor)}
