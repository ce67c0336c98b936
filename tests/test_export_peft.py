"""export_peft: PEFT itself loads the exported checkpoint and reproduces graphft's outputs for the task."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from graphft.backbones import tiny_backbone
from graphft.compose import export_peft, load_exported_head, peft_layer_kind
from graphft.config import AdapterConfig, GraphConfig, GraphFTConfig, RouterConfig
from graphft.errors import ExportError, RoutingError
from graphft.heads import masked_mean_pool
from graphft.model import GraphFTModel
from graphft.tasks import TaskSpec
from tests.conftest import example_inputs

peft = pytest.importorskip("peft")

TASKS = [TaskSpec("sentiment", label_names=["neg", "pos"]), TaskSpec("topic", label_names=["a", "b", "c"])]

# peft 0.21 reads the deprecated `is_gradient_checkpointing` of transformers 5 models when it wraps them; the
# FutureWarning is peft's to fix, and pyproject turns transformers FutureWarnings into errors.
PEFT_WARNING = "ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"


def _trained_model(arch: str, **backbone: bool) -> tuple[GraphFTModel, torch.nn.Module]:
    """A model with non-zero modules and sparse, uneven paths, and a fresh copy of its backbone for PEFT."""
    backbone_model = tiny_backbone(arch, **backbone)  # type: ignore[arg-type]
    base = copy.deepcopy(backbone_model)
    config = GraphFTConfig(
        adapter=AdapterConfig(num_modules=4, rank=2),
        graph=GraphConfig(embedding_dim=8),
        router=RouterConfig(gating_threshold=0.2),
    )
    tasks = [TaskSpec("lm_a", kind="causal_lm"), TaskSpec("lm_b", kind="causal_lm")] if backbone else TASKS
    model = GraphFTModel(backbone_model, tasks, config).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for bank in model.banks.values():
            bank.lora_B.copy_(torch.randn(bank.lora_B.shape, generator=generator) * 0.3)
        model.router.free_logits.copy_(torch.randn(model.router.free_logits.shape, generator=generator) * 2.0)
    return model, base


@pytest.mark.filterwarnings(PEFT_WARNING)
@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama"])
def test_peft_loads_the_export_and_reproduces_the_task(arch: str, tmp_path: Path) -> None:
    model, base = _trained_model(arch)
    inputs = example_inputs(model.backbone)
    for task_id, task in enumerate(model.task_names):
        directory = model.export_peft(task, tmp_path / task)
        peft_model = peft.PeftModel.from_pretrained(copy.deepcopy(base), directory).eval()
        with torch.no_grad():
            ours = model(**inputs, task_ids=torch.full((4,), task_id)).pooled
            hidden = peft_model(**inputs).last_hidden_state
        assert ours is not None
        torch.testing.assert_close(masked_mean_pool(hidden, inputs["attention_mask"]), ours, atol=1e-5, rtol=0)
        # rank = active modules x r, layer by layer
        active = (model.allocations()[task_id] != 0).sum(-1)
        ranks = json.loads((directory / "adapter_config.json").read_text())["rank_pattern"]
        assert sorted(ranks.values()) == sorted((active * 2).tolist())
    assert len(set((model.allocations() != 0).sum(-1).flatten().tolist())) > 1  # uneven ranks were exercised


@pytest.mark.filterwarnings(PEFT_WARNING)
def test_the_export_differs_per_task_and_carries_the_head(tmp_path: Path) -> None:
    model, base = _trained_model("bert")
    inputs = example_inputs(model.backbone)
    pooled = []
    for task in model.task_names:
        directory = export_peft(model, task, tmp_path / task)
        peft_model = peft.PeftModel.from_pretrained(copy.deepcopy(base), directory).eval()
        with torch.no_grad():
            pooled.append(masked_mean_pool(peft_model(**inputs).last_hidden_state, inputs["attention_mask"]))
    assert not torch.allclose(pooled[0], pooled[1], atol=1e-4)
    weight, bias = load_exported_head(tmp_path / "topic")
    with torch.no_grad():
        logits = model(**inputs, task_ids=torch.ones(4, dtype=torch.long)).logits
    assert logits is not None and weight.shape == (3, 32)
    torch.testing.assert_close(pooled[1] @ weight.T + bias, logits, atol=1e-5, rtol=0)


@pytest.mark.filterwarnings(PEFT_WARNING)
def test_causal_lm_export_reproduces_lm_logits(tmp_path: Path) -> None:
    model, base = _trained_model("gpt2", causal_lm=True)
    inputs = example_inputs(model.backbone)
    directory = export_peft(model, "lm_b", tmp_path)
    assert not (directory / "graphft_head.safetensors").exists()
    peft_model = peft.PeftModel.from_pretrained(base, directory).eval()
    with torch.no_grad():
        ours = model(**inputs, task_ids=torch.ones(4, dtype=torch.long)).logits
        theirs = peft_model(**inputs).logits
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)


def test_unknown_task_and_unmappable_backbones_raise_typed_errors(tmp_path: Path) -> None:
    model, _ = _trained_model("bert")
    with pytest.raises(RoutingError, match="unknown task 'nope'"):
        export_peft(model, "nope", tmp_path)
    with pytest.raises(RoutingError, match=r"task ids must lie in \[0, 1\]"):
        export_peft(model, 5, tmp_path)
    with pytest.raises(ExportError, match="PEFT cannot map a Embedding"):
        peft_layer_kind(torch.nn.Embedding(3, 4))
    # GPT-2 with its Linear LM head adapted next to the Conv1D blocks: one LoraConfig cannot map both kinds
    config = GraphFTConfig(adapter=AdapterConfig(num_modules=2, rank=2, target_modules=["c_attn", "lm_head"]))
    mixed = GraphFTModel(tiny_backbone("gpt2", causal_lm=True), [TaskSpec("lm", kind="causal_lm")], config)
    with pytest.raises(ExportError, match=r"mixes Conv1D layers.*and Linear layers"):
        export_peft(mixed, "lm", tmp_path)
    assert not (tmp_path / "adapter_config.json").exists()
