"""Data-parallel training: 2 gloo ranks on CPU follow the single-process loss curve of the same global batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from graphft.distributed import DistributedContext, distributed_context
from graphft.errors import ConfigError
from graphft.training import train
from tests.training_worker import build_run, distributed_main

STEPS = 6


def test_two_gloo_ranks_match_a_single_process_run(tmp_path: Path) -> None:
    model, data = build_run(STEPS, dropout=False)
    single = train(model, data, log_every=1).history
    # fork: the ranks inherit the imported modules (spawn would import torch and transformers twice more)
    arguments = (2, str(tmp_path / "store"), STEPS, str(tmp_path))
    mp.start_processes(distributed_main, args=arguments, nprocs=2, join=True, start_method="fork")
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert ranks[0] == ranks[1]  # every rank logs the all-reduced loss
    assert [record["step"] for record in ranks[0]] == list(range(STEPS))
    for expected, got in zip(single, ranks[0], strict=True):
        for key in ("loss", "task_loss", "routing_entropy", "temperature"):
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-7), (expected["step"], key)


def test_shards_are_disjoint_equal_slices_of_the_global_batch() -> None:
    batch = torch.arange(8)
    shards = [DistributedContext(rank, 4).shard(8, batch)[0] for rank in range(4)]
    assert torch.equal(torch.cat(shards), batch)
    assert DistributedContext().shard(8, batch)[0] is batch


def test_distributed_without_a_process_group_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="init_process_group"):
        distributed_context(True, 8)
    assert not distributed_context(None, 8).enabled
