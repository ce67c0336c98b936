"""The fixed-graph learner: a user-given relation matrix, message passing over it, no structure learning.

Axis legend: v graph nodes (tasks), f input node features, d embedding features.
"""

from __future__ import annotations

from torch import Tensor

from graph_learners.graph import TaskGraph, validate_relation_matrix
from graph_learners.learners.base import GraphLearner
from graph_learners.learners.message_passing import ConvKind, MessagePassingStack

__all__ = ["FixedGraphLearner"]


class FixedGraphLearner(GraphLearner):
    """Keeps R fixed to the given matrix and learns only node embeddings over it (the baseline).

    :math:`R = R_0`, :math:`h = \\mathrm{MP}_R(W x + e)`.

    Args:
        task_names: v task names.
        relation_matrix: R0, (v, v), non-negative; an identity matrix means "no relations".
        feature_dim: f, the width of the input node features.
        embedding_dim: d, the width of the node embeddings.
        conv: the PyG convolution of the message-passing stack ('gcn', 'gatv2' or 'transformer').
        num_layers: the number of message-passing layers.

    Shapes:
        - node_features: (v, f) -> TaskGraph with R (v, v) and embeddings (v, d)
    """

    def __init__(
        self,
        task_names: list[str],
        relation_matrix: Tensor,
        feature_dim: int,
        embedding_dim: int = 32,
        conv: ConvKind = "gcn",
        num_layers: int = 2,
        learnable_embedding: bool = True,
    ) -> None:
        matrix = validate_relation_matrix(relation_matrix, len(task_names))
        super().__init__(task_names, feature_dim, embedding_dim, prior=matrix, learnable_embedding=learnable_embedding)
        self.message_passing = MessagePassingStack(embedding_dim, num_layers, conv)

    def forward(self, node_features: Tensor) -> TaskGraph:
        relation_matrix = self.prior
        assert relation_matrix is not None  # a fixed learner always has its matrix
        hidden = self.encode(node_features)
        graph = TaskGraph.from_relation_matrix(relation_matrix, hidden, self.task_names)
        embeddings = self.message_passing(hidden, graph.edge_index, graph.edge_weight)
        return TaskGraph(relation_matrix, embeddings, graph.edge_index, graph.edge_weight, self.task_names)
