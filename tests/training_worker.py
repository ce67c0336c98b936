"""A tiny training run, used in-process and in subprocesses by the checkpoint and distributed tests.

Run: ``python -m tests.training_worker --steps 40 --checkpoint-dir DIR --out DIR [--resume] [--sleep 0.02]``;
it writes ``final.safetensors`` (the trained tensors) and ``history.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from graphft.backbones import tiny_backbone
from graphft.config import AdapterConfig, GraphConfig, GraphFTConfig, TrainingConfig
from graphft.io import model_state
from graphft.model import GraphFTModel
from graphft.tasks.data import MultiTaskData
from graphft.tasks.planted import planted_problem
from graphft.training import TrainResult, train

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class SlowData(MultiTaskData):
    """The same data, but each training batch takes ``delay`` seconds longer (so a test can kill mid-run)."""

    def __init__(self, data: MultiTaskData, delay: float) -> None:
        super().__init__(data.tasks)
        self.delay = delay

    def batch(self, split: str, task_ids: torch.Tensor, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        if split == "train":
            time.sleep(self.delay)
        return super().batch(split, task_ids, indices)


def build_run(steps: int, checkpoint_every: int = 0, dropout: bool = True) -> tuple[GraphFTModel, MultiTaskData]:
    """The tiny model (tiny BERT, 4 planted tasks) and its data; ``dropout=False`` zeroes backbone dropout."""
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    problem = planted_problem(num_clusters=2, tasks_per_cluster=2, train_examples=32, eval_examples=8, tokens=8)
    config = GraphFTConfig(
        adapter=AdapterConfig(num_modules=4, rank=2),
        graph=GraphConfig(embedding_dim=8),
        training=TrainingConfig(
            steps=steps, batch_size=8, progress=False, checkpoint_every=checkpoint_every, keep_checkpoints=0
        ),
    )
    backbone = tiny_backbone("bert")
    if not dropout:
        for module in backbone.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        backbone.config.attention_probs_dropout_prob = 0.0
    return GraphFTModel(backbone, problem.data.specs, config), problem.data


def write_outputs(model: GraphFTModel, result: TrainResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(model_state(model), str(out / "final.safetensors"))
    (out / "history.json").write_text(json.dumps({"history": result.history, "evaluations": result.evaluations}))


def distributed_main(rank: int, world_size: int, init_file: str, steps: int, out: str) -> None:
    """One rank of a gloo data-parallel run (the target of ``torch.multiprocessing.spawn``)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        model, data = build_run(steps, dropout=False)
        result = train(model, data, log_every=1, distributed=True)
        (Path(out) / f"rank{rank}.json").write_text(json.dumps(result.history))
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--checkpoint-every", type=int, default=0)
    parser.add_argument("--checkpoint-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args(argv)
    model, data = build_run(args.steps, args.checkpoint_every)
    if args.sleep:
        data = SlowData(data, args.sleep)
    result = train(model, data, log_every=1, checkpoint_dir=args.checkpoint_dir, resume=args.resume)
    write_outputs(model, result, args.out)
    return {"steps": len(result.history)}


if __name__ == "__main__":
    main()
