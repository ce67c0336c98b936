"""GraphFTModel: end-to-end behaviour, gradients into the GNN, save/load, bad input; on tiny models and MiniLM."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graphft.backbones import tiny_backbone
from graphft.config import AdapterConfig, GraphConfig, GraphFTConfig, TrainingConfig
from graphft.errors import CheckpointError, ConfigError, GraphError, RoutingError, TaskError
from graphft.model import GraphFTModel
from graphft.tasks import TaskSpec
from tests.conftest import MIXED_TASKS as TASKS
from tests.conftest import build_backbone, example_inputs


def _config(**graph: object) -> GraphFTConfig:
    return GraphFTConfig(
        adapter=AdapterConfig(num_modules=4, rank=2),
        graph=GraphConfig(embedding_dim=8, **graph),  # type: ignore[arg-type]
        training=TrainingConfig(steps=5, batch_size=8, progress=False),
    )


def _batch(model: GraphFTModel) -> dict[str, torch.Tensor]:
    inputs = example_inputs(model.backbone, batch=6)
    task_ids = torch.tensor([0, 1, 2, 0, 1, 2])
    labels = torch.tensor([1.0, 2.0, 0.5, 0.0, 0.0, -1.0])
    return {**inputs, "task_ids": task_ids, "labels": labels}


@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama", "minilm"])
def test_mixed_task_batch_gives_losses_and_gradients_everywhere(arch: str) -> None:
    torch.manual_seed(0)
    model = GraphFTModel(build_backbone(arch), TASKS, _config()).train()
    output = model(**_batch(model))
    assert output.loss is not None and torch.isfinite(output.loss)
    assert output.logits is not None and output.logits.shape == (6, 3)
    assert torch.isinf(output.logits[0, 2]) and torch.isfinite(output.logits[1, 2])  # 2 classes vs 3
    assert set(output.regularisers) >= {"balance", "relation", "relation_collapse"}
    output.loss.backward()
    for part, params in model.parameter_groups().items():
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params), part
    assert all(p.grad is None for p in model.backbone.parameters() if not p.requires_grad)


def test_task_loss_gradient_alone_reaches_the_gnn() -> None:
    torch.manual_seed(0)
    model = GraphFTModel(tiny_backbone("bert"), TASKS, _config()).train()
    # move the adapters off zero so the routed modules change the output
    with torch.no_grad():
        for bank in model.banks.values():
            bank.lora_B.normal_(std=0.5)
    model(**_batch(model)).task_loss.backward()  # type: ignore[union-attr]
    learner = model.graph_learner
    assert learner is not None
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.message_passing.parameters())
    assert learner.projection.weight.grad is not None and learner.projection.weight.grad.abs().sum() > 0


def test_output_equals_heads_on_the_frozen_backbone_at_init() -> None:
    torch.manual_seed(0)
    backbone = tiny_backbone("bert")
    batch = _batch(GraphFTModel(tiny_backbone("bert"), TASKS, _config()))
    with torch.no_grad():
        hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        model = GraphFTModel(backbone, TASKS, _config()).eval()
        output = model(**batch)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
    assert torch.equal(output.pooled, pooled)


def test_eval_is_deterministic_and_sparse_paths_skip_modules() -> None:
    torch.manual_seed(0)
    config = _config()
    config.router.gating_threshold = 0.3
    model = GraphFTModel(tiny_backbone("bert"), TASKS, config).eval()
    batch = _batch(model)
    with torch.no_grad():
        first, second = model(**batch).logits, model(**batch).logits
    assert torch.equal(first, second)
    allocations = model.allocations()
    assert allocations.shape == (3, len(model.layer_names), 4)
    assert bool((allocations == 0).any())
    assert torch.allclose(allocations.sum(-1), torch.ones(3, len(model.layer_names)))


def test_training_is_deterministic_under_a_seed() -> None:
    from graphft.tasks.planted import planted_problem
    from graphft.training import train

    def run() -> list[float]:
        problem = planted_problem(num_clusters=2, tasks_per_cluster=2, train_examples=32, eval_examples=16)
        model = GraphFTModel(tiny_backbone("bert"), problem.data.specs, _config())
        return [record["loss"] for record in train(model, problem.data, log_every=1).history]

    first, second = run(), run()
    assert first == second and len(first) == 5


def test_save_and_load_round_trip_bit_exactly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GraphFTModel(tiny_backbone("bert"), TASKS, _config(), task_features=torch.randn(3, 7))
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    model.save_pretrained(tmp_path / "ckpt")
    loaded = GraphFTModel.from_pretrained(tmp_path / "ckpt", backbone=tiny_backbone("bert"))
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[key], restored[key]) for key in original)
    batch = _batch(model)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded(**batch).logits)
    assert torch.equal(model.relation_matrix(), loaded.relation_matrix())


def test_loading_a_corrupted_checkpoint_names_the_file(tmp_path: Path) -> None:
    model = GraphFTModel(tiny_backbone("bert"), TASKS, _config())
    model.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*truncated or corrupted"):
        GraphFTModel.from_pretrained(tmp_path, backbone=tiny_backbone("bert"))
    with pytest.raises(CheckpointError, match="missing"):
        GraphFTModel.from_pretrained(tmp_path / "nowhere")


def test_bad_task_ids_and_labels() -> None:
    model = GraphFTModel(tiny_backbone("bert"), TASKS, _config())
    batch = _batch(model)
    with pytest.raises(RoutingError, match=r"task ids must lie in \[0, 2\]"):
        model(**{**batch, "task_ids": torch.tensor([0, 1, 2, 3, 0, 0])})
    with pytest.raises(TaskError, match="outside task 'sentiment'"):
        model(**{**batch, "labels": torch.tensor([5.0, 0, 0, 0, 0, 0])})
    with pytest.raises(RoutingError, match="unknown task 'nope'"):
        model.task_id("nope")


def test_bad_relation_prior_and_configs() -> None:
    with pytest.raises(GraphError, match="square"):
        GraphFTModel(tiny_backbone("bert"), TASKS, _config(prior_relation_matrix=[[1.0, 0.0]]))
    with pytest.raises(GraphError, match="negative"):
        GraphFTModel(tiny_backbone("bert"), TASKS, _config(prior_relation_matrix=[[0, -1, 0], [0, 0, 0], [0, 0, 0]]))
    with pytest.raises(ConfigError, match="needs prior_relation_matrix"):
        GraphConfig(learner="fixed")
    with pytest.raises(TaskError, match="at least 2"):
        TaskSpec("single", label_names=["only"])
    with pytest.raises(TaskError, match="unique"):
        GraphFTModel(tiny_backbone("bert"), [TASKS[0], TASKS[0]], _config())


def test_config_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("router:\n  gating_threshold: 0.2\ngraph:\n  conv: gatv2\n")
    config = GraphFTConfig.from_yaml(path)
    assert config.router.gating_threshold == 0.2 and config.graph.conv == "gatv2"
    path.write_text("router:\n  gating_treshold: 0.2\n")
    with pytest.raises(ConfigError, match="Did you mean 'gating_threshold'"):
        GraphFTConfig.from_yaml(path)


def test_causal_lm_tasks_train_with_the_language_model_loss() -> None:
    torch.manual_seed(0)
    backbone = tiny_backbone("gpt2", causal_lm=True)
    tasks = [TaskSpec("lm_a", kind="causal_lm"), TaskSpec("lm_b", kind="causal_lm")]
    model = GraphFTModel(backbone, tasks, _config()).train()
    inputs = example_inputs(backbone, batch=4)
    labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
    output = model(**inputs, task_ids=torch.tensor([0, 1, 0, 1]), labels=labels)
    assert output.logits is not None and output.logits.shape[-1] == backbone.config.vocab_size
    assert output.loss is not None and torch.isfinite(output.loss)
    output.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.banks.parameters())
    assert "lm_head" not in model.banks
    with pytest.raises(TaskError, match="either all causal_lm or none"):
        GraphFTModel(tiny_backbone("gpt2", causal_lm=True), [tasks[0], TASKS[0]], _config())
    with pytest.raises(TaskError, match="need a backbone with an LM head"):
        GraphFTModel(tiny_backbone("gpt2"), tasks, _config())


def test_a_trained_model_reloads_with_its_annealed_routing_temperature(tmp_path: Path) -> None:
    from graphft.tasks.planted import planted_problem
    from graphft.training import train

    problem = planted_problem(num_clusters=2, tasks_per_cluster=2, train_examples=32, eval_examples=16)
    model = GraphFTModel(tiny_backbone("bert"), problem.data.specs, _config())
    train(model, problem.data)
    assert model.router.temperature < model.config.router.routing_temperature  # annealing moved it
    model.save_pretrained(tmp_path / "ckpt")
    loaded = GraphFTModel.from_pretrained(tmp_path / "ckpt", backbone=tiny_backbone("bert"))
    assert loaded.router.temperature == model.router.temperature
    assert torch.equal(loaded.allocations(), model.allocations())
