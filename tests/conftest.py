"""Shared fixtures: tiny random transformers models and the real MiniLM backbone (cut to 2 layers)."""

from __future__ import annotations

import os

import pytest
import torch
from transformers import PreTrainedModel

from graphft.backbones import load_backbone, tiny_backbone
from graphft.tasks import TaskSpec

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One thread: tests use small tensors, and on a shared 2-core machine a second OpenMP thread mostly spin-waits
# (tiny-model training was measured up to 30x slower with 2 threads than with 1 under load).
torch.set_num_threads(1)

ARCHS = ["bert", "gpt2", "llama", "minilm"]

#: Two classification tasks of different widths and a regression task: the mixed task set of the model tests.
MIXED_TASKS = [
    TaskSpec("sentiment", label_names=["neg", "pos"]),
    TaskSpec("topic", label_names=["a", "b", "c"]),
    TaskSpec("score", kind="regression"),
]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same global random state: torch seeds itself randomly per process, so an
    unseeded draw in a test would make its outcome differ from run to run."""
    torch.manual_seed(0)


def build_backbone(arch: str) -> PreTrainedModel:
    """A fresh backbone of the given kind: a tiny random one, or MiniLM cut to 2 layers."""
    if arch == "minilm":
        return load_backbone("minilm", num_hidden_layers=2)
    return tiny_backbone(arch)  # type: ignore[arg-type]


@pytest.fixture(params=ARCHS)
def backbone(request: pytest.FixtureRequest) -> PreTrainedModel:
    """Each architecture in turn: tiny BERT, GPT-2 (Conv1D), Llama, and the real MiniLM."""
    return build_backbone(request.param)


@pytest.fixture
def minilm() -> PreTrainedModel:
    """The real all-MiniLM-L6-v2 backbone, cut to 2 layers for speed."""
    return load_backbone("minilm", num_hidden_layers=2)


def example_inputs(model: PreTrainedModel, batch: int = 4, tokens: int = 7, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random token ids and a padded attention mask that fit the model's vocabulary."""
    generator = torch.Generator().manual_seed(seed)
    vocab = min(int(model.config.vocab_size), 1000)
    input_ids = torch.randint(5, vocab, (batch, tokens), generator=generator)
    attention_mask = torch.ones(batch, tokens, dtype=torch.long)
    attention_mask[0, -2:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}
