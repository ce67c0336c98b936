"""The interface every graph learner implements.

Axis legend: v graph nodes (tasks), f input node features, d embedding features.
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor, nn

from graph_learners.graph import GraphInputError, TaskGraph, validate_relation_matrix
from graph_learners.regularisers import relation_regularisers

__all__ = ["GraphLearner"]


class GraphLearner(nn.Module, abc.ABC):
    """Maps task node features to a :class:`TaskGraph`.

    Every learner encodes its input node features with a linear map plus a learnable per-task embedding:
    :math:`h^{(0)}_i = W x_i + e_i`, so tasks with identical descriptors can still be told apart.

    Args:
        task_names: v task names, in node order.
        feature_dim: f, width of the input node features.
        embedding_dim: d, width of the node embeddings.
        prior: optional user prior relation matrix R0, (v, v), non-negative.
        learnable_embedding: add the per-task embedding e_i.
    """

    prior: Tensor | None

    def __init__(
        self,
        task_names: list[str],
        feature_dim: int,
        embedding_dim: int,
        prior: Tensor | None = None,
        learnable_embedding: bool = True,
    ) -> None:
        super().__init__()
        if not task_names or len(set(task_names)) != len(task_names):
            raise GraphInputError(f"task names must be non-empty and unique, got {task_names!r}.")
        self.task_names = list(task_names)
        self.feature_dim = feature_dim
        self.embedding_dim = embedding_dim
        self.encoder = nn.Linear(feature_dim, embedding_dim)
        self.task_embedding = nn.Parameter(
            torch.randn(len(task_names), embedding_dim) * 0.02, requires_grad=learnable_embedding
        )
        prior_matrix = None if prior is None else validate_relation_matrix(prior, len(task_names))
        self.register_buffer("prior", prior_matrix, persistent=prior_matrix is not None)

    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    def encode(self, node_features: Tensor) -> Tensor:
        """:math:`h^{(0)} = W x + e`.

        Shapes:
            - node_features: (v, f)
            - returns: (v, d)
        """
        if node_features.ndim != 2 or node_features.shape != (self.num_tasks, self.feature_dim):
            raise GraphInputError(
                f"node features must have shape ({self.num_tasks}, {self.feature_dim}), "
                f"got {tuple(node_features.shape)}."
            )
        return self.encoder(node_features.to(self.encoder.weight.dtype)) + self.task_embedding

    @abc.abstractmethod
    def forward(self, node_features: Tensor) -> TaskGraph:
        """Build the task graph from node features (v, f)."""

    def regularisers(self, graph: TaskGraph) -> dict[str, Tensor]:
        """Unweighted relation-matrix regularisers (see :func:`relation_regularisers`)."""
        prior: Tensor | None = self.prior
        return relation_regularisers(graph.relation_matrix, prior)
