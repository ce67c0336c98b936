"""The structure learner: learns the relation matrix R end to end from node features and an optional prior.

Axis legend: v graph nodes (tasks), f input node features, d embedding features.
"""

from __future__ import annotations

import torch
from einops import einsum
from torch import Tensor, nn

from graph_learners.graph import GraphInputError, TaskGraph
from graph_learners.learners.base import GraphLearner
from graph_learners.learners.message_passing import ConvKind, MessagePassingStack

__all__ = ["StructureLearner"]


class StructureLearner(GraphLearner):
    """Learned edge scores -> sparse relation matrix -> message passing.

    .. math::
        s_{ij} = \\cos(Q h_i, Q h_j) + \\beta R^0_{ij}, \\quad
        R_{i\\cdot} = \\mathrm{softmax}_{j \\ne i,\\ \\varnothing}(s_{i\\cdot} / \\tau_R), \\quad
        R \\leftarrow \\mathrm{topk}(R), \\quad R \\leftarrow (R + R^\\top)/2

    Scores are cosine similarities of a learned projection, so tasks with similar encoded features start out
    related and training moves them. Each row's softmax also covers a learned "no relation" score
    :math:`s_\\varnothing` (initially ``null_score``) whose share is dropped: a task unlike all others keeps
    most of its mass there instead of being forced onto its least-unlike neighbour. Rows of the unsparsified R
    thus sum to at most 1; the ``collapse`` regulariser keeps them from becoming uniform. Gradients reach every
    score through the kept edges (the message passing and the consumer's use of R).

    Args:
        task_names: v task names.
        feature_dim: f, the width of the input node features.
        embedding_dim: d, the width of the node embeddings.
        prior: optional user prior R0 (v, v); added to the scores with weight ``prior_weight`` (beta).
        top_k: keep the k strongest relations per task (None keeps all).
        threshold: zero relations below this value after the softmax (None keeps all).
        symmetric: symmetrise R.
        relation_temperature: tau_R of the row softmax.
        null_score: initial score of the "no relation" option (a cosine similarity; None disables it).
        conv: the PyG convolution of the message-passing stack ('gcn', 'gatv2' or 'transformer').
        num_layers: the number of message-passing layers.

    Shapes:
        - node_features: (v, f) -> TaskGraph with R (v, v) and embeddings (v, d)
    """

    def __init__(
        self,
        task_names: list[str],
        feature_dim: int,
        embedding_dim: int = 32,
        prior: Tensor | None = None,
        prior_weight: float = 1.0,
        top_k: int | None = None,
        threshold: float | None = None,
        symmetric: bool = True,
        relation_temperature: float = 1.0,
        null_score: float | None = 0.5,
        conv: ConvKind = "gcn",
        num_layers: int = 2,
        learnable_embedding: bool = True,
    ) -> None:
        super().__init__(task_names, feature_dim, embedding_dim, prior=prior, learnable_embedding=learnable_embedding)
        if top_k is not None and top_k <= 0:
            raise GraphInputError(f"top_k must be a positive integer or None, got {top_k!r}.")
        if relation_temperature <= 0:
            raise GraphInputError(f"relation_temperature must be positive, got {relation_temperature!r}.")
        self.projection = nn.Linear(embedding_dim, embedding_dim, bias=False)
        self.prior_weight = prior_weight
        self.top_k = top_k
        self.threshold = threshold
        self.symmetric = symmetric
        self.relation_temperature = relation_temperature
        self.null_score = None if null_score is None else nn.Parameter(torch.tensor(float(null_score)))
        self.message_passing = MessagePassingStack(embedding_dim, num_layers, conv)

    def relation_matrix(self, hidden: Tensor) -> Tensor:
        """R from encoded nodes.

        Shapes:
            - hidden: (v, d)
            - returns: (v, v), zero diagonal
        """
        v = hidden.shape[0]
        projected = nn.functional.normalize(self.projection(hidden), dim=-1)
        scores = einsum(projected, projected, "v1 d, v2 d -> v1 v2")
        if self.prior is not None:
            scores = scores + self.prior_weight * self.prior.to(scores)
        diagonal = torch.eye(v, dtype=torch.bool, device=hidden.device)
        if v == 1:
            return torch.zeros_like(scores)
        scores = scores.masked_fill(diagonal, float("-inf"))
        if self.null_score is not None:
            scores = torch.cat([scores, self.null_score.expand(v, 1)], dim=1)
        relation = (scores / self.relation_temperature).softmax(dim=-1)[:, :v]
        if self.top_k is not None and self.top_k < v - 1:
            kept = relation.topk(self.top_k, dim=-1).indices
            mask = torch.zeros_like(relation).scatter_(-1, kept, 1.0)
            relation = relation * mask
        if self.threshold is not None:
            relation = relation * (relation >= self.threshold)
        if self.symmetric:
            relation = (relation + relation.T) / 2
        return relation

    def forward(self, node_features: Tensor) -> TaskGraph:
        hidden = self.encode(node_features)
        relation = self.relation_matrix(hidden)
        graph = TaskGraph.from_relation_matrix(relation, hidden, self.task_names)
        embeddings = self.message_passing(hidden, graph.edge_index, graph.edge_weight)
        return TaskGraph(relation, embeddings, graph.edge_index, graph.edge_weight, self.task_names)
