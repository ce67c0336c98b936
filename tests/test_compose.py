"""Merging a task into the base weights, mixed-task batches, adding a task, and few-shot fitting of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graphft.backbones import tiny_backbone
from graphft.compose import add_task, fit_new_task, merge_task, task_path, unmerge
from graphft.config import AdapterConfig, GraphConfig, GraphFTConfig, RouterConfig, TrainingConfig
from graphft.descriptors import task_descriptors
from graphft.errors import AdapterError, CheckpointError, GraphError, RoutingError, TaskError
from graphft.model import GraphFTModel
from graphft.tasks import EncodedSplit, MultiTaskData, TaskSpec
from graphft.tasks.planted import planted_problem
from tests.conftest import MIXED_TASKS as TASKS
from tests.conftest import example_inputs


def _config(**graph: object) -> GraphFTConfig:
    return GraphFTConfig(
        adapter=AdapterConfig(num_modules=4, rank=2),
        graph=GraphConfig(embedding_dim=8, **graph),  # type: ignore[arg-type]
        router=RouterConfig(gating_threshold=0.2),
        training=TrainingConfig(batch_size=16, progress=False),
    )


def _model(arch: str = "bert", features: torch.Tensor | None = None, **graph: object) -> GraphFTModel:
    """A model whose modules and routing logits look trained: non-zero B, distinct sparse paths per task."""
    if features is None:
        features = torch.randn(len(TASKS), 6, generator=torch.Generator().manual_seed(2))
    model = GraphFTModel(tiny_backbone(arch), TASKS, _config(**graph), task_features=features).eval()  # type: ignore[arg-type]
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for bank in model.banks.values():
            bank.lora_B.copy_(torch.randn(bank.lora_B.shape, generator=generator) * 0.3)
        model.router.free_logits.copy_(torch.randn(model.router.free_logits.shape, generator=generator) * 2.0)
    return model


def _forward(model: GraphFTModel, task_ids: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = example_inputs(model.backbone, batch=len(task_ids), seed=seed)
    with torch.no_grad():
        output = model(**inputs, task_ids=task_ids)
    assert output.pooled is not None and output.logits is not None
    return output.pooled, output.logits


def _base_weights(model: GraphFTModel) -> dict[str, torch.Tensor]:
    return {name: bank.base_layer.weight.detach().clone() for name, bank in model.banks.items()}


# ----------------------------------------------------------------------------------------------- merging
@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama"])
def test_merged_forward_equals_unmerged_and_unmerge_restores_the_base(arch: str) -> None:
    model = _model(arch)
    task_ids = torch.full((4,), 1)
    unmerged_pooled, unmerged_logits = _forward(model, task_ids)
    base = _base_weights(model)
    merge_task(model, "topic")
    assert model.merged_task == "topic" and model.banks.merged
    assert any(not torch.equal(base[name], bank.base_layer.weight) for name, bank in model.banks.items())
    merged_pooled, merged_logits = _forward(model, task_ids)  # would differ if the banks added the delta again
    torch.testing.assert_close(merged_pooled, unmerged_pooled, atol=1e-5, rtol=0)
    torch.testing.assert_close(merged_logits, unmerged_logits, atol=1e-5, rtol=0)
    unmerge(model)
    assert model.merged_task is None and not model.banks.merged
    for name, bank in model.banks.items():
        torch.testing.assert_close(bank.base_layer.weight, base[name], atol=1e-6, rtol=0)
    torch.testing.assert_close(_forward(model, task_ids)[0], unmerged_pooled, atol=1e-5, rtol=0)


def test_a_merged_model_serves_only_its_task_at_inference(tmp_path: Path) -> None:
    model = _model()
    model.merge_task("sentiment")
    with pytest.raises(RoutingError, match="merged for task 'sentiment' but the batch also holds score, topic"):
        _forward(model, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(AdapterError, match="already merged for 'sentiment'"):
        model.merge_task("topic")
    with pytest.raises(CheckpointError, match="merged"):
        model.save_pretrained(tmp_path)
    model.train()
    with pytest.raises(RoutingError, match="serves inference only"):
        _forward(model, torch.zeros(4, dtype=torch.long))
    model.eval().unmerge()
    with pytest.raises(AdapterError, match="not merged"):
        model.unmerge()
    with pytest.raises(RoutingError, match="unknown task 'nope'"):
        model.merge_task("nope")
    assert not model.banks.merged


# ---------------------------------------------------------------------------------------- mixed batches
@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama"])
def test_a_mixed_task_batch_equals_each_task_run_alone(arch: str) -> None:
    model = _model(arch)
    task_ids = torch.tensor([0, 1, 2, 1, 0, 2])
    pooled, logits = _forward(model, task_ids)
    for task_id in range(len(TASKS)):
        alone_pooled, alone_logits = _forward(model, torch.full((6,), task_id))
        rows = task_ids == task_id
        torch.testing.assert_close(pooled[rows], alone_pooled[rows], atol=1e-5, rtol=0)
        torch.testing.assert_close(logits[rows], alone_logits[rows], atol=1e-5, rtol=0)
    # the tasks' paths do differ, so the check above could fail
    assert not torch.allclose(pooled[task_ids == 0], _forward(model, torch.full((6,), 1))[0][task_ids == 0])


# ----------------------------------------------------------------------------------------- adding tasks
def test_a_new_task_is_routed_by_the_graph_prior_and_relates_to_its_clone() -> None:
    model = _model()
    features = model.task_features.clone()
    added = add_task(model, TaskSpec("topic2", label_names=["a", "b", "c"]), task_features=features[1])
    assert (added.name, added.task_id) == ("topic2", 3) and added.routing_shift.shape == (3,)
    assert model.task_names[-1] == "topic2" and torch.equal(model.task_features[:3], features)
    graph = model.task_graph()
    assert graph is not None and model.router.prior is not None
    free = model.router.free_logits.detach()
    row = graph.relation_matrix.detach()[3, :3]
    # zero-shot: the new row starts as the relation-weighted average of the known tasks' free logits
    torch.testing.assert_close(free[3], torch.einsum("u,ulk->lk", row / row.sum(), free[:3]))
    assert not torch.allclose(free[3], torch.zeros_like(free[3]))
    with torch.no_grad():
        prior = model.router.prior(graph, model.router.free_logits)
        torch.testing.assert_close(model.router.logits(graph)[3], free[3] + prior[3])
    relation = model.relation_matrix()
    assert int(relation[3, :3].argmax()) == 1  # a copy of topic's features relates most to topic
    path = task_path(model, "topic2")
    torch.testing.assert_close(path.sum(-1), torch.ones(len(model.layer_names)))
    assert _forward(model, torch.full((4,), 3))[1].shape == (4, 3)


def test_with_a_fixed_graph_and_no_relations_the_old_tasks_do_not_change() -> None:
    identity = torch.eye(3).tolist()
    model = _model(learner="fixed", prior_relation_matrix=identity)
    before = _forward(model, torch.tensor([0, 1, 2, 1]))[1]
    with pytest.raises(GraphError, match="fixed task graph cannot relate a new task"):
        model.add_task(TaskSpec("five", label_names=list("abcde")), task_features=torch.zeros(6))
    added = model.add_task(
        TaskSpec("five", label_names=list("abcde")), task_features=torch.zeros(6), relation_row=[0, 0, 0]
    )
    assert float(added.routing_shift.max()) == 0.0
    assert torch.equal(model.router.free_logits[3], torch.zeros_like(model.router.free_logits[3]))  # no relations
    after = _forward(model, torch.tensor([0, 1, 2, 1]))[1]
    assert after.shape == (4, 5)  # the heads widened to the new task's 5 classes
    valid = torch.isfinite(before)
    assert torch.equal(torch.isfinite(after[:, :3]), valid) and torch.isinf(after[:, 3:]).all()
    torch.testing.assert_close(after[:, :3][valid], before[valid], atol=1e-6, rtol=0)
    assert model.config.graph.prior_relation_matrix == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


def test_a_new_task_related_to_one_task_starts_on_its_path() -> None:
    model = _model(learner="fixed", prior_relation_matrix=torch.eye(3).tolist())
    spec = TaskSpec("topic2", label_names=["a", "b", "c"])
    model.add_task(spec, task_features=torch.zeros(6), relation_row=[0, 2, 0])
    free = model.router.free_logits.detach()
    torch.testing.assert_close(free[3], free[1])
    no_graph = _model(learner="none")  # no graph prior: the uniform mix of all modules
    no_graph.add_task(TaskSpec("topic2", label_names=["a", "b", "c"]), task_features=torch.zeros(6))
    assert torch.equal(no_graph.router.free_logits[3], torch.zeros_like(no_graph.router.free_logits[3]))


def test_a_shared_head_gives_the_known_task_head_and_bad_requests_raise_typed_errors() -> None:
    model = _model()
    model.add_task(
        TaskSpec("mood", label_names=["neg", "pos"]), task_features=torch.zeros(6), share_head_with="sentiment"
    )
    assert torch.equal(model.heads.weight[3], model.heads.weight[0])
    assert torch.equal(model.heads.bias[3], model.heads.bias[0])
    spec = TaskSpec("other", label_names=["x", "y"])
    with pytest.raises(TaskError, match="already has a task called 'mood'"):
        model.add_task(TaskSpec("mood", label_names=["a", "b"]), task_features=torch.zeros(6))
    with pytest.raises(TaskError, match="have 6 columns but the new task's task_features have shape \\(5,\\)"):
        model.add_task(spec, task_features=torch.zeros(5))
    with pytest.raises(TaskError, match=r"either examples .* or task_features"):
        model.add_task(spec)
    with pytest.raises(TaskError, match="cannot share the head of 'sentiment'"):
        model.add_task(spec, task_features=torch.zeros(6), share_head_with="sentiment")
    with pytest.raises(TaskError, match="is causal_lm but this model's tasks are classification or regression"):
        model.add_task(TaskSpec("lm", kind="causal_lm"), task_features=torch.zeros(6))
    with pytest.raises(GraphError, match="built without a user prior"):
        model.add_task(spec, task_features=torch.zeros(6), relation_row=[1, 0, 0, 0])
    with pytest.raises(RoutingError, match="unknown task 'nope'"):
        model.add_task(spec, task_features=torch.zeros(6), share_head_with="nope")
    assert model.task_names == ["sentiment", "topic", "score", "mood"]  # failed calls left the model as it was
    assert model.router.free_logits.shape[0] == model.heads.weight.shape[0] == model.task_features.shape[0] == 4


def test_relation_rows_are_validated() -> None:
    model = _model(prior_relation_matrix=torch.eye(3).tolist())
    spec = TaskSpec("new", label_names=["x", "y"])
    with pytest.raises(GraphError, match=r"one relation per existing task \(3\)"):
        model.add_task(spec, task_features=torch.zeros(6), relation_row=[1.0, 0.0])
    with pytest.raises(GraphError, match="negative"):
        model.add_task(spec, task_features=torch.zeros(6), relation_row=[1.0, -1.0, 0.0])
    assert len(model.tasks) == 3


def test_save_and_load_round_trip_after_add_task(tmp_path: Path) -> None:
    model = _model(prior_relation_matrix=torch.eye(3).tolist())
    model.add_task(TaskSpec("new", label_names=list("abcd")), task_features=torch.ones(6), relation_row=[0.5, 0, 1])
    model.save_pretrained(tmp_path)
    loaded = GraphFTModel.from_pretrained(tmp_path, backbone=tiny_backbone("bert"))
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[key], restored[key]) for key in original)
    assert loaded.task_names == model.task_names
    task_ids = torch.tensor([3, 0, 3, 1])
    assert torch.equal(_forward(model, task_ids)[1], _forward(loaded, task_ids)[1])


# ------------------------------------------------------------------------------------ few-shot fitting
def test_descriptor_features_and_few_shot_fitting_move_only_the_new_task() -> None:
    problem = planted_problem(2, 2, train_examples=16, few_shot_examples=32, eval_examples=4, tokens=8)
    known, new = MultiTaskData(problem.data.tasks[:3]), problem.data.tasks[3]
    backbone = tiny_backbone("bert")
    config = _config()
    config.graph.descriptor_examples = 16
    features = task_descriptors(backbone, known, num_examples=16)
    model = GraphFTModel(backbone, known.specs, config, task_features=features).eval()
    with torch.no_grad():
        for bank in model.banks.values():
            bank.lora_B.normal_(std=0.3)
    model.add_task(new.spec, new)
    expected = task_descriptors(backbone, MultiTaskData([new]), config.graph.descriptor_examples, seed=0)[0]
    torch.testing.assert_close(model.task_features[3], expected)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    batch = {"input_ids": new.train.input_ids, "attention_mask": new.train.attention_mask, "labels": new.train.labels}
    with torch.no_grad():
        loss_before = model(**batch, task_ids=torch.full((32,), 3)).task_loss
    rng = torch.random.get_rng_state()
    losses = fit_new_task(model, new.spec.name, new, steps=8, batch_size=8, lr_router=0.05, lr_head=0.05)
    assert len(losses) == 8 and torch.equal(torch.random.get_rng_state(), rng)
    with torch.no_grad():
        loss_after = model(**batch, task_ids=torch.full((32,), 3)).task_loss
    assert loss_after is not None and loss_before is not None and float(loss_after) < float(loss_before)
    trained_rows = {"router.free_logits", "heads.weight", "heads.bias"}
    for key, value in model.state_dict().items():
        if key in trained_rows:
            assert torch.equal(value[:3], before[key][:3]), key
            assert not torch.equal(value[3], before[key][3]), key
        else:
            assert torch.equal(value, before[key]), key
    assert all(parameter.grad is None for parameter in model.parameters())
    assert not model.training
    with pytest.raises(TaskError, match="positive number of steps"):
        fit_new_task(model, new.spec.name, new, steps=0)
    model.merge_task("c1_t0")
    with pytest.raises(AdapterError, match="unmerge"):
        fit_new_task(model, new.spec.name, new, steps=1)


def test_a_causal_lm_task_is_added_and_fitted_through_its_router_logits_only() -> None:
    tasks = [TaskSpec("lm_a", kind="causal_lm"), TaskSpec("lm_b", kind="causal_lm")]
    model = GraphFTModel(tiny_backbone("gpt2", causal_lm=True), tasks, _config()).eval()
    with torch.no_grad():
        for bank in model.banks.values():
            bank.lora_B.normal_(std=0.3)  # at init (B = 0) the routing has no gradient
    inputs = example_inputs(model.backbone, batch=6)
    labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
    examples = EncodedSplit(inputs["input_ids"], inputs["attention_mask"], labels)
    with pytest.raises(TaskError, match="cannot share the head"):
        model.add_task(TaskSpec("lm_c", kind="causal_lm"), task_features=torch.zeros(2), share_head_with="lm_a")
    model.add_task(TaskSpec("lm_c", kind="causal_lm"), task_features=torch.zeros(2))
    before = {key: value.clone() for key, value in model.state_dict().items()}
    losses = model.fit_new_task("lm_c", examples, steps=2, batch_size=3)
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    changed = [key for key, value in model.state_dict().items() if not torch.equal(value, before[key])]
    assert changed == ["router.free_logits"]
    assert torch.equal(model.router.free_logits[:2], before["router.free_logits"][:2])
