"""Relaxed sampling of module weights and the sparse gate that turns them into paths.

Axis legend: t tasks, l target layers, k modules.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import RelaxedBernoulli
from torch.nn import functional

__all__ = ["deterministic_weights", "gate", "relaxed_weights"]


def relaxed_weights(logits: Tensor, temperature: float, relaxation: str) -> Tensor:
    """Training-time module weights, sampled with reparameterisation; each row sums to 1.

    - ``gumbel_softmax``: :math:`\\mathrm{softmax}((z + g)/\\tau)`, g ~ Gumbel(0, 1)
    - ``relaxed_bernoulli``: independent gates :math:`b_k \\sim \\mathrm{RelaxedBernoulli}(\\tau, z_k)`, normalised
    - ``softmax``: :math:`\\mathrm{softmax}(z/\\tau)` (no noise)

    Shapes:
        - logits: (..., k) -> (..., k)
    """
    if relaxation == "gumbel_softmax":
        return functional.gumbel_softmax(logits, tau=temperature, hard=False, dim=-1)
    if relaxation == "relaxed_bernoulli":
        gates = RelaxedBernoulli(torch.tensor(temperature, device=logits.device), logits=logits).rsample()
        return gates / gates.sum(dim=-1, keepdim=True).clamp_min(1e-8)
    return (logits / temperature).softmax(dim=-1)


def deterministic_weights(logits: Tensor, temperature: float, relaxation: str) -> Tensor:
    """Evaluation-time module weights (the noise-free counterpart of :func:`relaxed_weights`).

    Shapes:
        - logits: (..., k) -> (..., k), rows summing to 1
    """
    if relaxation == "relaxed_bernoulli":
        gates = torch.sigmoid(logits / temperature)
        return gates / gates.sum(dim=-1, keepdim=True).clamp_min(1e-8)
    return (logits / temperature).softmax(dim=-1)


def gate(weights: Tensor, threshold: float, top_k: int | None = None, straight_through: bool = False) -> Tensor:
    """Zero the weights below ``threshold`` (and outside the top k), keep the largest, renormalise.

    .. math::
        \\tilde w_k = \\frac{w_k \\, [w_k \\ge \\gamma]}{\\sum_j w_j \\, [w_j \\ge \\gamma]}

    With ``straight_through`` the forward value is the gated weight and the gradient is that of the
    ungated one, so pruned modules can come back; otherwise gradients flow through the kept weights only.

    Shapes:
        - weights: (..., k), non-negative rows -> (..., k)
    """
    keep = weights >= threshold
    keep = keep | (weights == weights.amax(dim=-1, keepdim=True))
    if top_k is not None and top_k < weights.shape[-1]:
        top = weights.topk(top_k, dim=-1).indices
        keep = keep & torch.zeros_like(keep).scatter_(-1, top, True)
    gated = weights * keep
    gated = gated / gated.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    if straight_through:
        return gated.detach() + weights - weights.detach()
    return gated
