"""Few-shot fitting of a new task: only its router logits and its head move; everything else stays bit-identical.

Axis legend: b batch, n tokens, t tasks, l target layers, k modules, c classes, h hidden features.

The task's trainable rows are copied out of the shared tensors (``router.free_logits`` (t, l, k),
``heads.weight`` (t, c, h), ``heads.bias`` (t, c)), substituted back for each forward pass with
:func:`torch.func.functional_call`, trained with Adam on the task loss, and written back into their rows at
the end. Gradients are taken with :func:`torch.autograd.grad` for these rows alone, so no other parameter is
updated or even receives a ``.grad``. The modules themselves are shared by every task and stay frozen: training
them would change the other tasks.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor
from torch.func import functional_call

from graphft.errors import AdapterError, TaskError
from graphft.model import GraphFTModel
from graphft.tasks.data import EncodedSplit, TaskData

__all__ = ["fit_new_task"]


def fit_new_task(
    model: GraphFTModel,
    name: str,
    data: TaskData | EncodedSplit,
    steps: int = 50,
    *,
    batch_size: int | None = None,
    lr_router: float | None = None,
    lr_head: float | None = None,
    seed: int | None = None,
    sample_paths: bool = False,
) -> list[float]:
    """Train task ``name``'s free routing logits and head for ``steps`` Adam steps on ``data``.

    By default the forward pass uses the task's evaluation path (noise-free soft weights at the router's current
    temperature, gated), with the straight-through gradient when ``router.straight_through`` is set, so that
    pruned modules can come back: a few steps then optimise exactly what inference uses. ``sample_paths=True``
    samples relaxed paths as in multi-task training instead (noisier; with ``relaxation='relaxed_bernoulli'``
    paths are always sampled). The backbone and adapters run in evaluation mode (no dropout). The loss is the
    task loss alone: the graph regularisers are about the shared parts, which stay fixed here.

    Args:
        model: the model (not merged), typically after :func:`graphft.compose.add_task`.
        name: the task to fit.
        data: its examples (the ``train`` split of a :class:`TaskData`, or an :class:`EncodedSplit`).
        steps: optimizer steps.
        batch_size: examples per step (default ``training.batch_size``, at most the number of examples).
        lr_router, lr_head: learning rates (default ``training.lr_router`` and ``training.lr_heads``).
        seed: seed of batch sampling and routing noise (default ``training.seed``); the global RNG is untouched.
        sample_paths: sample relaxed paths (as in training) instead of the noise-free evaluation path.

    Returns:
        The training loss of every step.

    Raises:
        RoutingError: unknown task.
        TaskError: no examples, or ``steps`` is not positive.
        AdapterError: the model is merged.
    """
    task_id = model.task_id(name)
    if model.banks.merged:
        raise AdapterError(f"the model is merged for {model.merged_task!r}; call model.unmerge() before fitting.")
    split = data.train if isinstance(data, TaskData) else data
    if len(split) == 0 or steps <= 0:
        raise TaskError(f"fit_new_task needs examples and a positive number of steps, got {len(split)} and {steps}.")
    training = model.config.training
    size = min(batch_size or training.batch_size, len(split))
    rows = _task_rows(model, task_id)
    rates = {"router.free_logits": training.lr_router if lr_router is None else lr_router}
    rates.update(dict.fromkeys(("heads.weight", "heads.bias"), training.lr_heads if lr_head is None else lr_head))
    optimizer = torch.optim.Adam([{"params": [row], "lr": rates[key]} for key, row in rows.items()])
    device = model.task_features.device
    was_training = model.training
    losses = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(training.seed if seed is None else seed)
        generator = torch.Generator().manual_seed(training.seed if seed is None else seed)
        model.train()
        model.backbone.eval()  # no dropout in the frozen backbone and the modules
        router_config = model.router.config
        if not sample_paths and router_config.relaxation != "relaxed_bernoulli":
            model.router.config = replace(router_config, relaxation="softmax")  # the evaluation path, no noise
        try:
            for _ in range(steps):
                batch = _sample(split, size, generator, device)
                task_ids = torch.full((size,), task_id, device=device)
                overrides = {key: _with_row(model.get_parameter(key), task_id, row) for key, row in rows.items()}
                output = functional_call(model, overrides, kwargs={**batch, "task_ids": task_ids})
                assert output.task_loss is not None
                gradients = torch.autograd.grad(output.task_loss, list(rows.values()))
                for row, gradient in zip(rows.values(), gradients, strict=True):
                    row.grad = gradient
                optimizer.step()
                losses.append(float(output.task_loss.detach()))
        finally:
            model.router.config = router_config
            model.train(was_training)
    with torch.no_grad():
        for key, row in rows.items():
            model.get_parameter(key)[task_id] = row.detach()
    return losses


def _task_rows(model: GraphFTModel, task_id: int) -> dict[str, Tensor]:
    """Trainable copies of the task's rows, by parameter name."""
    names = ["router.free_logits"] + ([] if model.language_modelling else ["heads.weight", "heads.bias"])
    return {name: model.get_parameter(name)[task_id].detach().clone().requires_grad_(True) for name in names}


def _with_row(parameter: Tensor, task_id: int, row: Tensor) -> Tensor:
    """``parameter`` (detached) with row ``task_id`` replaced by the trainable ``row``."""
    frozen = parameter.detach()
    return torch.cat([frozen[:task_id], row[None], frozen[task_id + 1 :]])


def _sample(split: EncodedSplit, size: int, generator: torch.Generator, device: torch.device) -> dict[str, Tensor]:
    """A random batch of ``size`` examples, trimmed to its longest real sequence.

    Shapes:
        - returns: input_ids, attention_mask (b, n'); labels (b) or (b, n')
    """
    indices = torch.randperm(len(split), generator=generator)[:size]
    attention_mask = split.attention_mask[indices]
    length = max(int(attention_mask.sum(dim=1).max()), 1)
    labels = split.labels[indices]
    return {
        "input_ids": split.input_ids[indices, :length].to(device),
        "attention_mask": attention_mask[:, :length].to(device),
        "labels": (labels[:, :length] if labels.ndim == 2 else labels).to(device),
    }
