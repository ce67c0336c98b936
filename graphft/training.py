"""The multi-task training loop: AdamW with per-part learning rates, clipping, temperature annealing,
temperature-based task sampling, periodic evaluation, progress bars; seeded and deterministic on CPU."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from graphft.config import TrainingConfig
from graphft.errors import GraphFTError, NonFiniteLossError
from graphft.evaluation import evaluate
from graphft.model import GraphFTModel
from graphft.routing import temperature_at
from graphft.tasks.data import MultiTaskData
from graphft.tasks.sampling import MultiTaskSampler

__all__ = ["TrainResult", "build_optimizer", "train"]


@dataclass
class TrainResult:
    """History of a training run: one record per logged step, and validation metrics per evaluation."""

    history: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)


def build_optimizer(model: GraphFTModel, config: TrainingConfig) -> torch.optim.AdamW:
    """AdamW with one parameter group per part (adapters, router, graph, heads) and its learning rate."""
    rates = {
        "adapters": config.lr_adapters,
        "router": config.lr_router,
        "graph": config.lr_graph,
        "heads": config.lr_heads,
    }
    groups = [
        {"params": params, "lr": rates[name], "name": name}
        for name, params in model.parameter_groups().items()
        if params
    ]
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)


def train(
    model: GraphFTModel,
    data: MultiTaskData,
    config: TrainingConfig | None = None,
    log_every: int = 10,
    on_evaluation: Callable[[int, dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data``.

    Args:
        model: the model; its tasks must be ``data``'s tasks, in the same order.
        data: the encoded tasks.
        config: the loop's settings (default: ``model.config.training``).
        log_every: record losses every this many steps.
        on_evaluation: called as ``on_evaluation(step, metrics)`` after each validation evaluation (metrics as
            returned by :func:`~graphft.evaluation.evaluate`); it may raise to stop training (e.g. pruning).

    Raises:
        GraphFTError: the model's tasks differ from the data's.
        NonFiniteLossError: the loss becomes NaN or infinite (a :class:`GraphFTError`).
    """
    config = config or model.config.training
    if model.task_names != data.names:
        raise GraphFTError(f"the model's tasks {model.task_names} differ from the data's {data.names}; use the same.")
    torch.manual_seed(config.seed)
    device = model.task_features.device
    sampler = MultiTaskSampler(data.sizes("train"), config.batch_size, config.task_sampling_temperature, config.seed)
    optimizer = build_optimizer(model, config)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    result = TrainResult()
    model.train()
    progress = tqdm(range(config.steps), desc="training", disable=not config.progress, dynamic_ncols=True)
    for step in progress:
        model.router.set_temperature(temperature_at(step, config.steps, model.config.router))
        task_ids, indices = sampler.next_batch()
        batch = {key: value.to(device) for key, value in data.batch("train", task_ids, indices).items()}
        output = model(**batch)
        assert output.loss is not None
        if not math.isfinite(float(output.loss.detach())):
            raise NonFiniteLossError(
                f"the loss became {float(output.loss)} at step {step}; lower the learning rates or the routing "
                "temperature's decay, or enable gradient clipping (training.grad_clip)."
            )
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        if step % log_every == 0 or step == config.steps - 1:
            record = {
                "step": step,
                "loss": float(output.loss.detach()),
                "task_loss": float(output.task_loss.detach()),  # type: ignore[union-attr]
                "temperature": model.router.temperature,
                "routing_entropy": float(output.routing.entropy),  # type: ignore[union-attr]
                **{f"reg_{k}": float(v.detach()) for k, v in output.regularisers.items()},
            }
            result.history.append(record)
            progress.set_postfix(loss=f"{record['loss']:.3f}", tau=f"{record['temperature']:.2f}")
        if config.eval_every and (step + 1) % config.eval_every == 0 and step + 1 < config.steps:
            result.evaluations.append({"step": step + 1, **evaluate(model, data, "validation")})
            if on_evaluation is not None:
                on_evaluation(step + 1, result.evaluations[-1])
    result.evaluations.append({"step": config.steps, **evaluate(model, data, "validation")})
    if on_evaluation is not None:
        on_evaluation(config.steps, result.evaluations[-1])
    model.eval()
    return result
