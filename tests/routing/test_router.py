"""Router, gates and schedules: sparsity, straight-through gradients, determinism at eval, annealing."""

from __future__ import annotations

import pytest
import torch

from graph_learners import StructureLearner, TaskGraph
from graphft.config import RouterConfig
from graphft.errors import ConfigError, RoutingError
from graphft.priors import GraphPrior
from graphft.routing import Router, gate, relaxed_weights, temperature_at


def test_gate_zeroes_small_weights_keeps_the_largest_and_renormalises() -> None:
    weights = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.04, 0.03, 0.02, 0.01]])
    gated = gate(weights, threshold=0.1)
    assert torch.allclose(gated.sum(-1), torch.ones(2))
    assert torch.equal(gated[0] == 0, torch.tensor([False, False, False, True]))
    assert torch.equal(gated[1], torch.tensor([1.0, 0.0, 0.0, 0.0]))  # nothing passes: the largest stays
    assert torch.equal(gate(weights, 0.0, top_k=2)[0] != 0, torch.tensor([True, True, False, False]))


def test_straight_through_passes_gradients_to_pruned_weights() -> None:
    logits = torch.tensor([2.0, 1.0, -3.0], requires_grad=True)
    weights = logits.softmax(-1)
    gated = gate(weights, threshold=0.1, straight_through=True)
    assert gated[2] == 0
    (gated * torch.tensor([0.0, 0.0, 1.0])).sum().backward()
    assert logits.grad is not None and logits.grad[2] != 0
    logits.grad = None
    hard = gate(logits.softmax(-1), threshold=0.1, straight_through=False)
    (hard * torch.tensor([0.0, 0.0, 1.0])).sum().backward()
    assert torch.count_nonzero(logits.grad) == 0


@pytest.mark.parametrize("relaxation", ["gumbel_softmax", "relaxed_bernoulli", "softmax"])
def test_relaxed_weights_are_distributions(relaxation: str) -> None:
    torch.manual_seed(0)
    weights = relaxed_weights(torch.randn(3, 4, 8), 0.5, relaxation)
    assert weights.shape == (3, 4, 8) and bool((weights >= 0).all())
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4), atol=1e-5)


def test_router_is_stochastic_in_training_and_deterministic_in_eval() -> None:
    torch.manual_seed(0)
    learner = StructureLearner(["a", "b", "c"], 4, 8)
    router = Router(3, 5, 6, 8, RouterConfig(gating_threshold=0.1))
    graph = learner(torch.randn(3, 4))
    router.train()
    first, second = router(graph).weights, router(graph).weights
    assert not torch.equal(first, second)
    router.eval()
    out = router(graph)
    assert torch.equal(out.weights, router(graph).weights)
    assert out.weights.shape == (3, 5, 6) and out.active_modules.shape == (5,)
    assert bool(((out.weights == 0) | (out.weights >= 0.1 / 1.0 - 1e-6)).all())


def test_prior_logits_reach_the_graph_learner() -> None:
    torch.manual_seed(0)
    learner = StructureLearner(["a", "b", "c"], 4, 8)
    router = Router(3, 2, 4, 8, RouterConfig(prior_strength=1.0))
    out = router(learner(torch.randn(3, 4)))
    (out.weights * torch.randn_like(out.weights)).sum().backward()
    assert learner.projection.weight.grad is not None and learner.projection.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("normalisation", ["row", "capped"])
def test_neighbour_prior_weighs_related_tasks_free_logits(normalisation: str) -> None:
    torch.manual_seed(0)
    relation = torch.tensor([[0.0, 0.8, 0.6], [0.8, 0.0, 0.1], [0.6, 0.1, 0.0]])  # row sums 1.4, 0.9, 0.7
    graph = TaskGraph.from_relation_matrix(relation, torch.randn(3, 8), ["a", "b", "c"])
    free_logits = torch.randn(3, 2, 4)
    prior = GraphPrior(8, 2, 4, neighbour_prior=True, neighbour_normalisation=normalisation)
    neighbours = prior(graph, free_logits) - prior.mlp(graph.node_embeddings).reshape(3, 2, 4)
    divisor = relation.sum(1, keepdim=True)
    if normalisation == "capped":  # only the row summing to more than 1 is scaled down
        divisor = divisor.clamp_min(1.0)
    expected = torch.einsum("tu,ulk->tlk", relation / divisor, free_logits)
    assert torch.allclose(neighbours, expected, atol=1e-6)
    weak = torch.einsum("tu,ulk->tlk", relation / relation.sum(1, keepdim=True), free_logits)[2]
    assert torch.allclose(neighbours[2], weak, atol=1e-6) == (normalisation == "row")


def test_annealing_schedules() -> None:
    config = RouterConfig(routing_temperature=1.0, min_temperature=0.1)
    assert temperature_at(0, 100, config) == 1.0
    assert temperature_at(100, 100, config) == pytest.approx(0.1)
    assert temperature_at(50, 100, config) == pytest.approx(0.1**0.5)
    linear = RouterConfig(routing_temperature=1.0, min_temperature=0.1, anneal="linear")
    assert temperature_at(50, 100, linear) == pytest.approx(0.55)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"routing_temperature": 0.0}, "routing_temperature"),
        ({"gating_threshold": 1.0}, "gating_threshold"),
        ({"gating_threshold": -0.1}, "gating_threshold"),
        ({"relaxation": "hardmax"}, "relaxation"),
        ({"min_temperature": 2.0}, "min_temperature"),
        ({"neighbour_normalisation": "mean"}, "neighbour_normalisation"),
    ],
)
def test_bad_router_config(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        RouterConfig(**kwargs)


def test_non_positive_temperature_at_run_time() -> None:
    with pytest.raises(RoutingError, match="positive"):
        Router(2, 1, 2, None, RouterConfig()).set_temperature(0.0)
