"""How a task graph becomes router priors and allocation regularisers.

Axis legend: t tasks, u tasks (second index), l target layers, k modules, d node embedding features.
"""

from __future__ import annotations

from einops import einsum, rearrange
from torch import Tensor, nn

from graph_learners import TaskGraph

__all__ = ["GraphPrior", "balance_loss", "neighbour_average", "smoothness_loss"]


class GraphPrior(nn.Module):
    """Prior routing logits from the task graph.

    .. math::
        P_t = \\mathrm{MLP}(h_t) + \\sum_u \\bar R_{tu} F_u, \\qquad \\bar R_{tu} = R_{tu} / \\sum_{u'} R_{tu'}

    where ``h`` are the graph's node embeddings and ``F`` the router's free logits: a task is pulled towards
    the paths of the tasks it relates to. The second term is optional (``neighbour_prior``, off by default);
    with ``neighbour_normalisation="capped"`` rows of R summing to less than 1 are not scaled up.

    Args:
        embedding_dim: d of the node embeddings.
        num_layers: l, the number of target layers.
        num_modules: k.
        hidden_dim: width of the MLP.
        neighbour_prior: add the R-weighted average of related tasks' free logits.
        neighbour_normalisation: 'row' (divide each row of R by its sum) or 'capped' (only rows summing to
            more than 1).

    Shapes:
        - graph: R (t, t), node embeddings (t, d); free_logits: (t, l, k)
        - returns: (t, l, k)
    """

    def __init__(
        self,
        embedding_dim: int,
        num_layers: int,
        num_modules: int,
        hidden_dim: int = 64,
        neighbour_prior: bool = False,
        neighbour_normalisation: str = "row",
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.num_modules = num_modules
        self.neighbour_prior = neighbour_prior
        self.neighbour_normalisation = neighbour_normalisation
        self.mlp = nn.Sequential(
            nn.Linear(embedding_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, num_layers * num_modules)
        )
        last: nn.Linear = self.mlp[-1]  # type: ignore[assignment]
        nn.init.normal_(last.weight, std=0.01)
        nn.init.zeros_(last.bias)

    def forward(self, graph: TaskGraph, free_logits: Tensor) -> Tensor:
        logits = rearrange(self.mlp(graph.node_embeddings), "t (l k) -> t l k", l=self.num_layers)
        if self.neighbour_prior:
            logits = logits + neighbour_average(graph.relation_matrix, free_logits, self.neighbour_normalisation)
        return logits


def neighbour_average(relation: Tensor, free_logits: Tensor, normalisation: str = "row") -> Tensor:
    """Each row task's R-weighted average of the column tasks' free logits; zero for a row of zeros.

    ``normalisation``: 'row' divides each row of R by its sum; 'capped' only rows summing to more than 1, so
    rows summing to less keep their "no relation" share.

    Shapes:
        - relation: (t, u); free_logits: (u, l, k)
        - returns: (t, l, k)
    """
    relation = relation.to(free_logits)
    floor = 1e-8 if normalisation == "row" else 1.0
    normalised = relation / relation.sum(dim=1, keepdim=True).clamp_min(floor)
    return einsum(normalised, free_logits, "t u, u l k -> t l k")


def smoothness_loss(relation_matrix: Tensor, allocations: Tensor) -> Tensor:
    """Related tasks share paths: :math:`\\frac{1}{t\\,l}\\sum_{ij} R_{ij} \\lVert W_i - W_j \\rVert^2`.

    Shapes:
        - relation_matrix: (t, t)
        - allocations: (t, l, k) soft module weights
        - returns: scalar
    """
    flat = rearrange(allocations, "t l k -> t (l k)")
    squared = (flat * flat).sum(dim=-1)
    gram = einsum(flat, flat, "t f, u f -> t u")
    distance = (squared[:, None] + squared[None, :] - 2 * gram).clamp_min(0.0)
    num_tasks, num_layers = allocations.shape[0], allocations.shape[1]
    return (relation_matrix.to(distance) * distance).sum() / (num_tasks * num_layers)


def balance_loss(allocations: Tensor) -> Tensor:
    """No module collapse: :math:`k \\sum_k \\bar w_k^2 - 1` with :math:`\\bar w` the mean usage over tasks and layers.

    0 when every module is used equally, k - 1 when one module takes everything.

    Shapes:
        - allocations: (t, l, k), rows summing to 1
        - returns: scalar
    """
    usage = allocations.mean(dim=(0, 1))
    usage = usage / usage.sum().clamp_min(1e-8)
    return allocations.shape[-1] * usage.pow(2).sum() - 1.0
