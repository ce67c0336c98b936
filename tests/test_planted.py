"""The planted-structure check: the learned graph recovers known task clusters on a tiny backbone."""

from __future__ import annotations

import torch

from graph_learners import adjusted_rand_index
from graphft.backbones import tiny_backbone
from graphft.config import AdapterConfig, GraphFTConfig, RegularisationConfig, TrainingConfig
from graphft.descriptors import task_descriptors
from graphft.diagnostics import allocation_precision
from graphft.model import GraphFTModel
from graphft.tasks.planted import planted_problem
from graphft.training import train


def test_learned_graph_recovers_planted_clusters() -> None:
    torch.manual_seed(0)
    problem = planted_problem(num_clusters=3, tasks_per_cluster=3, seed=1)
    backbone = tiny_backbone("bert")
    features = task_descriptors(backbone, problem.data)
    config = GraphFTConfig(
        adapter=AdapterConfig(num_modules=6, rank=4),
        regularisation=RegularisationConfig(balance=0.1),
        training=TrainingConfig(steps=150, batch_size=32, progress=False),
    )
    model = GraphFTModel(backbone, problem.data.specs, config, task_features=features)
    result = train(model, problem.data)
    relation = model.relation_matrix()
    assert adjusted_rand_index(relation, problem.clusters) >= 0.9
    # tasks of one cluster relate more strongly to each other than to other clusters' tasks
    same = torch.tensor([[a == b for b in problem.clusters] for a in problem.clusters]) & ~torch.eye(
        9, dtype=torch.bool
    )
    assert relation[same].mean() > 3 * relation[~same & ~torch.eye(9, dtype=torch.bool)].mean()
    precision = allocation_precision(model.allocations(), problem.skills)
    assert 0.0 <= precision["precision"] <= 1.0
    first, last = result.history[0]["task_loss"], result.history[-1]["task_loss"]
    assert last < first
