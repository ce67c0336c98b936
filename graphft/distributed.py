"""Data-parallel training helpers (torch.distributed; gloo on CPU, NCCL on CUDA).

Every rank runs the same seeded :class:`~graphft.tasks.sampling.MultiTaskSampler`, draws the same global
batch and keeps its own contiguous slice of it; the routing noise comes from the global torch generator,
which every rank seeds alike, so all ranks route identically. After ``backward`` the gradients are summed
over ranks and divided by the world size.

Why an explicit all-reduce rather than ``DistributedDataParallel``: GraphFTModel's forward takes keyword
inputs and routes through a task graph computed inside the forward, and some parameters (router prior, graph
learner) receive gradients from both the batch and the regularisers; DDP's bucketing hooks and unused-
parameter detection add nothing here but constraints. One flattened all-reduce per step is as cheap as DDP's
buckets for the few million adapter parameters, and it is easy to check: with equal slices, the mean of the
ranks' losses is the single-process loss of the global batch, so the averaged gradient is its gradient.

Axis legend: b batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from graphft.errors import ConfigError

__all__ = ["DistributedContext", "all_reduce_gradients", "distributed_context"]


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the run: ``rank`` of ``world_size`` (1 when not distributed)."""

    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 evaluates, logs and writes checkpoints."""
        return self.rank == 0

    def shard(self, batch_size: int, *tensors: Tensor) -> tuple[Tensor, ...]:
        """This rank's contiguous slice of each (b) tensor of the global batch."""
        if not self.enabled:
            return tensors
        size = batch_size // self.world_size
        start = self.rank * size
        return tuple(tensor[start : start + size] for tensor in tensors)

    def mean(self, values: Tensor) -> Tensor:
        """The mean of ``values`` over ranks (a collective: every rank must call it)."""
        if not self.enabled:
            return values
        reduced = values.clone()
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
        return reduced / self.world_size

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def distributed_context(distributed: bool | None, batch_size: int) -> DistributedContext:
    """The context of this process.

    Args:
        distributed: True requires an initialised process group; False ignores one; None uses one if it is
            initialised (e.g. under ``torchrun`` after ``torch.distributed.init_process_group``).
        batch_size: the global batch size; it must split evenly over the ranks.

    Raises:
        ConfigError: ``distributed=True`` without a process group, or a batch size the world size does not divide.
    """
    initialised = dist.is_available() and dist.is_initialized()
    if distributed and not initialised:
        raise ConfigError(
            "train(distributed=True) needs an initialised process group; call "
            "torch.distributed.init_process_group('gloo' or 'nccl') first (torchrun sets the environment for it)."
        )
    if distributed is False or not initialised:
        return DistributedContext()
    context = DistributedContext(dist.get_rank(), dist.get_world_size())
    if batch_size % context.world_size:
        raise ConfigError(
            f"TrainingConfig.batch_size {batch_size} is not divisible by the world size {context.world_size}; "
            "use a multiple of it (each rank takes an equal slice of the global batch)."
        )
    return context


def all_reduce_gradients(parameters: list[torch.nn.Parameter], context: DistributedContext) -> None:
    """Average the gradients of ``parameters`` over ranks, in place, with one flattened all-reduce.

    Every rank must hold gradients for the same parameters (true here: all ranks run the same routing).
    """
    if not context.enabled:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([grad.flatten() for grad in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= context.world_size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
        offset += grad.numel()
