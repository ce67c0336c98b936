"""Graph learners: shapes, gradients, sparsification, priors, regularisers, bad relation matrices."""

from __future__ import annotations

import pytest
import torch

from graph_learners import (
    FixedGraphLearner,
    GraphInputError,
    StructureLearner,
    adjusted_rand_index,
    relation_regularisers,
    validate_relation_matrix,
)

NAMES = [f"task{i}" for i in range(6)]


@pytest.mark.parametrize("conv", ["gcn", "gatv2", "transformer"])
def test_structure_learner_builds_a_valid_graph_and_passes_gradients(conv: str) -> None:
    torch.manual_seed(0)
    learner = StructureLearner(NAMES, feature_dim=5, embedding_dim=8, conv=conv)  # type: ignore[arg-type]
    graph = learner(torch.randn(6, 5))
    relation = graph.relation_matrix
    assert relation.shape == (6, 6) and graph.node_embeddings.shape == (6, 8)
    assert bool((relation >= 0).all()) and torch.allclose(relation, relation.T)
    assert torch.equal(torch.diagonal(relation), torch.zeros(6))
    # a loss on the relation matrix and one on the embeddings both reach the edge-score projection
    (relation[0, 1] + graph.node_embeddings[0, 0]).backward()
    assert learner.projection.weight.grad is not None and learner.projection.weight.grad.abs().sum() > 0


def test_top_k_keeps_at_most_k_relations_per_task_before_symmetrising() -> None:
    learner = StructureLearner(NAMES, 5, 8, top_k=2, symmetric=False)
    relation = learner(torch.randn(6, 5)).relation_matrix
    assert int((relation > 0).sum(dim=1).max()) <= 2


def test_identical_features_of_two_groups_are_recovered_as_clusters() -> None:
    torch.manual_seed(0)
    centres = torch.randn(2, 16) * 3
    features = torch.cat([centres[0].expand(3, 16), centres[1].expand(3, 16)]) + 0.01 * torch.randn(6, 16)
    learner = StructureLearner(NAMES, 16, 16, relation_temperature=0.2, learnable_embedding=False)
    relation = learner(features).relation_matrix.detach()
    assert adjusted_rand_index(relation, [0, 0, 0, 1, 1, 1]) == 1.0


def test_prior_bias_moves_relations_towards_the_prior() -> None:
    prior = torch.zeros(6, 6)
    prior[0, 5] = prior[5, 0] = 1.0
    torch.manual_seed(0)
    with_prior = StructureLearner(NAMES, 5, 8, prior=prior, prior_weight=5.0)
    torch.manual_seed(0)
    without = StructureLearner(NAMES, 5, 8)
    features = torch.randn(6, 5)
    assert with_prior(features).relation_matrix[0, 5] > without(features).relation_matrix[0, 5] + 0.2


def test_fixed_learner_keeps_the_given_matrix() -> None:
    matrix = torch.rand(6, 6)
    learner = FixedGraphLearner(NAMES, matrix, feature_dim=5, embedding_dim=8)
    graph = learner(torch.randn(6, 5))
    assert torch.equal(graph.relation_matrix, matrix)
    assert graph.edge_index.shape[1] == int((matrix > 0).sum())


def test_collapse_regulariser_is_one_for_uniform_and_zero_for_one_neighbour() -> None:
    uniform = torch.ones(4, 4) - torch.eye(4)
    single = torch.tensor([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=torch.float)
    assert relation_regularisers(uniform)["collapse"] == pytest.approx(1.0, abs=1e-5)
    assert relation_regularisers(single)["collapse"] == pytest.approx(0.0, abs=1e-5)
    assert relation_regularisers(single, prior=single)["prior"] == 0.0


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (torch.ones(2, 3), "square"),
        (torch.tensor([[0.0, -1.0], [1.0, 0.0]]), "negative"),
        (torch.tensor([[0.0, float("nan")], [1.0, 0.0]]), "NaN"),
        (torch.ones(3, 3), "one row and column per task"),
    ],
)
def test_bad_relation_matrices(matrix: torch.Tensor, message: str) -> None:
    with pytest.raises(GraphInputError, match=message):
        validate_relation_matrix(matrix, num_nodes=2 if matrix.shape[0] != 2 or matrix.ndim != 2 else None)


def test_graph_learners_import_neither_graphft_nor_transformers() -> None:
    """Checked on the source (PyG itself may pull transformers in; our package must not ask for it)."""
    import ast
    from pathlib import Path

    import graph_learners

    imported = set()
    for path in Path(graph_learners.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    assert "torch_geometric" in imported
    assert not imported & {"graphft", "transformers"}
