"""The multi-task training loop: AdamW with per-part learning rates, clipping, temperature annealing,
temperature-based task sampling, periodic evaluation, progress bars; seeded and deterministic on CPU.

It also writes periodic checkpoints and resumes from them exactly (:mod:`graphft.checkpoint`), runs data-
parallel under ``torch.distributed`` (:mod:`graphft.distributed`), and on CUDA uses bf16 autocast on request,
the fused AdamW, and no host-device synchronisation outside logging steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from graphft.checkpoint import TrainingState, latest_checkpoint, load_training_checkpoint, save_training_checkpoint
from graphft.config import TrainingConfig
from graphft.distributed import all_reduce_gradients, distributed_context
from graphft.errors import CheckpointError, ConfigError, GraphFTError, NonFiniteLossError
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
    """AdamW with one parameter group per part (adapters, router, graph, heads) and its learning rate.

    On CUDA the fused implementation is used (one kernel for all parameters); elsewhere torch's default.
    """
    rates = {
        "adapters": config.lr_adapters,
        "router": config.lr_router,
        "graph": config.lr_graph,
        "heads": config.lr_heads,
    }
    groups: list[dict[str, Any]] = [
        {"params": params, "lr": rates[name], "name": name}
        for name, params in model.parameter_groups().items()
        if params
    ]
    on_cuda = all(p.is_cuda for group in groups for p in group["params"])
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay, fused=True if on_cuda else None)


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _raise_if_not_finite(first_bad_step: Tensor, losses: Tensor) -> None:
    """Raise when a loss so far was NaN or inf (reads one device scalar: call it only at logging steps)."""
    step = int(first_bad_step)
    if step >= 0:
        raise NonFiniteLossError(
            f"the loss became non-finite (NaN or inf) at step {step} (latest loss {float(losses[0])}); lower the "
            "learning rates or the routing temperature's decay, or enable gradient clipping (training.grad_clip)."
        )


def train(
    model: GraphFTModel,
    data: MultiTaskData,
    config: TrainingConfig | None = None,
    log_every: int = 10,
    *,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    distributed: bool | None = None,
    on_evaluation: Callable[[int, dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data``.

    Args:
        model: the model; its tasks must be ``data``'s tasks, in the same order. Place it on its device first.
        data: the encoded tasks.
        config: the loop's settings (default: ``model.config.training``).
        log_every: record losses every this many steps (and check them for NaN then).
        checkpoint_dir: write training checkpoints here every ``config.checkpoint_every`` steps and at the end
            (see :mod:`graphft.checkpoint`); None writes none.
        resume: continue from the newest checkpoint in ``checkpoint_dir`` if there is one (else start
            afresh). The continued run is bit-identical to an uninterrupted one on CPU.
        distributed: None trains data-parallel when a ``torch.distributed`` process group is initialised;
            True requires one; False ignores it. Each rank takes an equal slice of every global batch of
            ``config.batch_size`` examples; rank 0 evaluates and writes checkpoints, and only rank 0's result
            holds evaluations. Place each rank's model on its own device first (``cuda:LOCAL_RANK``).
        on_evaluation: called as ``on_evaluation(step, metrics)`` after each validation evaluation (metrics as
            returned by :func:`~graphft.evaluation.evaluate`; rank 0 only); it may raise to stop training (e.g.
            pruning).

    Raises:
        GraphFTError: the model's tasks differ from the data's.
        NonFiniteLossError: the loss becomes NaN or inf (checked at logging steps; a :class:`GraphFTError`).
        ConfigError: ``resume`` without ``checkpoint_dir``, or a batch size the world size does not divide.
        CheckpointError: the checkpoint to resume from is corrupted or belongs to another model or config.
    """
    config = config or model.config.training
    if model.task_names != data.names:
        raise GraphFTError(f"the model's tasks {model.task_names} differ from the data's {data.names}; use the same.")
    if resume and checkpoint_dir is None:
        raise ConfigError("train(resume=True) needs checkpoint_dir=...; pass the directory the run wrote to.")
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every <= 0:
        raise ConfigError(f"train(log_every=...) must be a positive integer, got {log_every!r}; use 1 or more.")
    context = distributed_context(distributed, config.batch_size)
    torch.manual_seed(config.seed)
    device = model.task_features.device
    sampler = MultiTaskSampler(data.sizes("train"), config.batch_size, config.task_sampling_temperature, config.seed)
    optimizer = build_optimizer(model, config)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    result = TrainResult()
    start = 0
    if resume:
        assert checkpoint_dir is not None
        checkpoint = latest_checkpoint(checkpoint_dir)
        if checkpoint is not None:
            state = load_training_checkpoint(checkpoint, model, optimizer, sampler)
            if state.step > config.steps:
                raise CheckpointError(
                    f"{checkpoint} is at step {state.step}, beyond training.steps={config.steps}; raise steps to "
                    "at least that, or resume from another checkpoint_dir."
                )
            start, result.history, result.evaluations = state.step, state.history, state.evaluations

    def save(step: int) -> None:
        if checkpoint_dir is not None and context.is_main:
            state = TrainingState(step, model.router.temperature, result.history, result.evaluations)
            save_training_checkpoint(checkpoint_dir, model, optimizer, sampler, state, keep=config.keep_checkpoints)
        context.barrier()

    first_bad_step = torch.full((), -1, dtype=torch.long, device=device)  # on device: no sync per step
    model.train()
    progress = tqdm(
        range(start, config.steps),
        desc="training",
        disable=not config.progress or not context.is_main,
        dynamic_ncols=True,
        initial=start,
        total=config.steps,
    )
    for step in progress:
        model.router.set_temperature(temperature_at(step, config.steps, model.config.router))
        task_ids, indices = context.shard(config.batch_size, *sampler.next_batch())
        batch = {
            key: value.to(device, non_blocking=True) for key, value in data.batch("train", task_ids, indices).items()
        }
        with _autocast(device, config.precision):
            output = model(**batch, check_inputs=False)  # the data and the sampler are validated
        assert output.loss is not None and output.task_loss is not None and output.routing is not None
        losses = torch.stack([output.loss.detach().float(), output.task_loss.detach().float()])
        finite = torch.isfinite(losses).all()
        first_bad_step = torch.where(~finite & (first_bad_step < 0), step, first_bad_step)
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        all_reduce_gradients(params, context)
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        completed = step + 1
        if step % log_every == 0 or completed == config.steps:
            _raise_if_not_finite(first_bad_step, losses)
            losses = context.mean(losses)
            record = {
                "step": step,
                "loss": float(losses[0]),
                "task_loss": float(losses[1]),
                "temperature": model.router.temperature,
                "routing_entropy": float(output.routing.entropy),
                **{f"reg_{k}": float(v.detach()) for k, v in output.regularisers.items()},
            }
            result.history.append(record)
            progress.set_postfix(loss=f"{record['loss']:.3f}", tau=f"{record['temperature']:.2f}")
        if config.eval_every and completed % config.eval_every == 0 and completed < config.steps and context.is_main:
            result.evaluations.append({"step": completed, **evaluate(model, data, "validation")})
            if on_evaluation is not None:
                on_evaluation(completed, result.evaluations[-1])
        if config.checkpoint_every and completed % config.checkpoint_every == 0 and completed < config.steps:
            _raise_if_not_finite(first_bad_step, losses)  # never checkpoint a diverged run
            save(completed)
    _raise_if_not_finite(first_bad_step, losses if start < config.steps else torch.zeros(2))
    if context.is_main and not any(record["step"] == config.steps for record in result.evaluations):
        result.evaluations.append({"step": config.steps, **evaluate(model, data, "validation")})
        if on_evaluation is not None:
            on_evaluation(config.steps, result.evaluations[-1])
    save(config.steps)
    model.eval()
    return result
