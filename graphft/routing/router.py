"""The differentiable path router: per task and target layer, a sparse weighting of the K modules.

Axis legend: t tasks, l target layers, k modules.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from graph_learners import TaskGraph
from graphft.config import RouterConfig
from graphft.errors import RoutingError
from graphft.priors import GraphPrior
from graphft.routing.gates import deterministic_weights, gate, relaxed_weights

__all__ = ["Router", "RoutingOutput"]


@dataclass
class RoutingOutput:
    """What the router decided for every task.

    Attributes:
        weights: (t, l, k) gated module weights (the paths) used in the forward pass.
        allocations: (t, l, k) deterministic soft weights (differentiable), used by the regularisers.
        logits: (t, l, k) routing logits (free + prior).
        entropy: mean entropy of the soft allocations (nats).
        active_modules: (l) mean number of modules with non-zero weight per layer, over tasks.
    """

    weights: Tensor
    allocations: Tensor
    logits: Tensor
    entropy: Tensor
    active_modules: Tensor


class Router(nn.Module):
    """Routing logits = free task logits + prior_strength * graph prior logits, relaxed then gated.

    .. math::
        z_{t,l} = F_{t,l} + \\lambda_p P_{t,l}(G), \\quad
        w_{t,l} = \\mathrm{gate}_\\gamma(\\mathrm{relax}_\\tau(z_{t,l}))

    Training samples relaxed weights at the current ``temperature``; evaluation is deterministic.

    Args:
        num_tasks: t, the number of tasks.
        num_layers: l, the number of adapted layers.
        num_modules: k, the number of modules in each layer's bank.
        embedding_dim: d of the graph's node embeddings (None: no graph prior).
        config: temperature, threshold, relaxation, prior strength.

    Shapes:
        - graph: TaskGraph over t tasks (or None)
        - returns: RoutingOutput with (t, l, k) tensors
    """

    def __init__(
        self, num_tasks: int, num_layers: int, num_modules: int, embedding_dim: int | None, config: RouterConfig
    ) -> None:
        super().__init__()
        self.config = config
        self.num_layers = num_layers
        self.num_modules = num_modules
        self.free_logits = nn.Parameter(torch.zeros(num_tasks, num_layers, num_modules))
        self.prior: GraphPrior | None = None
        if embedding_dim is not None:
            self.prior = GraphPrior(
                embedding_dim,
                num_layers,
                num_modules,
                config.prior_hidden_dim,
                config.neighbour_prior,
                config.neighbour_normalisation,
            )
        self.temperature = config.routing_temperature

    @property
    def num_tasks(self) -> int:
        return int(self.free_logits.shape[0])

    def set_temperature(self, temperature: float) -> None:
        """Set tau (the training loop anneals it)."""
        if not temperature > 0:
            raise RoutingError(f"the routing temperature must be positive, got {temperature!r}.")
        self.temperature = float(temperature)

    def logits(self, graph: TaskGraph | None) -> Tensor:
        """z = F + prior_strength * P(G); (t, l, k)."""
        logits = self.free_logits
        if self.prior is not None and graph is not None and self.config.prior_strength > 0:
            if graph.num_tasks != self.num_tasks:
                raise RoutingError(f"the task graph has {graph.num_tasks} tasks but the router {self.num_tasks}.")
            logits = logits + self.config.prior_strength * self.prior(graph, self.free_logits)
        return logits

    def forward(self, graph: TaskGraph | None) -> RoutingOutput:
        config = self.config
        logits = self.logits(graph)
        allocations = deterministic_weights(logits, self.temperature, config.relaxation)
        sampled = relaxed_weights(logits, self.temperature, config.relaxation) if self.training else allocations
        straight_through = config.straight_through and self.training
        weights = gate(sampled, config.gating_threshold, config.top_k, straight_through)
        with torch.no_grad():
            entropy = -(allocations * allocations.clamp_min(1e-12).log()).sum(-1).mean()
            active = (weights != 0).float().sum(-1).mean(0)
        return RoutingOutput(weights, allocations, logits, entropy, active)
