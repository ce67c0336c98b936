"""Regularisers on a learned relation matrix R.

Axis legend: v graph nodes (tasks).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["relation_regularisers"]


def _off_diagonal(matrix: Tensor) -> Tensor:
    """Mask that is 1 off the diagonal, shape (v, v)."""
    v = matrix.shape[0]
    return 1.0 - torch.eye(v, device=matrix.device, dtype=matrix.dtype)


def relation_regularisers(relation_matrix: Tensor, prior: Tensor | None = None) -> dict[str, Tensor]:
    """Unweighted regularisation terms of a relation matrix; the caller weighs them.

    - ``sparsity``: mean off-diagonal entry, :math:`\\frac{1}{v(v-1)}\\sum_{i \\ne j} R_{ij}` (few strong relations).
    - ``prior``: mean squared distance to the user's prior, :math:`\\frac{1}{v^2}\\|R - R_0\\|_F^2` (0 without one).
    - ``collapse``: mean normalised row entropy, :math:`\\frac{1}{v}\\sum_i H(R_{i\\cdot}/\\sum_j R_{ij}) / \\log(v-1)`;
      it is 1 when every task relates equally to every other (the collapse it penalises) and 0 when each task
      relates to one other.

    Shapes:
        - relation_matrix, prior: (v, v)
    """
    mask = _off_diagonal(relation_matrix)
    v = relation_matrix.shape[0]
    off = relation_matrix * mask
    terms = {"sparsity": off.sum() / max(v * (v - 1), 1)}
    if prior is None:
        terms["prior"] = relation_matrix.new_zeros(())
    else:
        terms["prior"] = (relation_matrix - prior.to(relation_matrix)).pow(2).mean()
    rows = off / off.sum(dim=1, keepdim=True).clamp_min(1e-12)
    entropy = -(rows * rows.clamp_min(1e-12).log()).sum(dim=1)
    terms["collapse"] = entropy.mean() / max(torch.log(torch.tensor(float(max(v - 1, 2)))).item(), 1e-12)
    return terms
