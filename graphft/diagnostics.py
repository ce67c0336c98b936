"""Diagnostics of learned structure: path overlap between tasks and its precision against known skills.

Axis legend: t tasks, u tasks (second index), l target layers, k modules, s skills.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["allocation_precision", "path_overlap"]


def path_overlap(allocations: Tensor) -> Tensor:
    """How much two tasks' paths coincide: :math:`O_{tu} = \\frac{1}{l}\\sum_{l,k} \\min(w_{tlk}, w_{ulk})`.

    1 for identical paths, 0 for disjoint ones.

    Shapes:
        - allocations: (t, l, k), rows summing to 1
        - returns: (t, t)
    """
    pairwise = torch.minimum(allocations[:, None], allocations[None, :])  # (t, u, l, k)
    return pairwise.sum(dim=-1).mean(dim=-1)


def allocation_precision(allocations: Tensor, skills: Tensor, threshold: float = 0.5) -> dict[str, float]:
    """Adapter-weight allocation precision: of the task pairs whose paths overlap by at least ``threshold``,
    the fraction that truly share a latent skill; and the recall of skill-sharing pairs.

    Shapes:
        - allocations: (t, l, k); skills: (t, s) binary
    """
    t = allocations.shape[0]
    upper = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    predicted = (path_overlap(allocations.float()) >= threshold) & upper
    truth = ((skills.float() @ skills.float().T) > 0) & upper
    true_positive = int((predicted & truth).sum())
    predicted_count, truth_count = int(predicted.sum()), int(truth.sum())
    return {
        "precision": true_positive / predicted_count if predicted_count else 0.0,
        "recall": true_positive / truth_count if truth_count else 0.0,
        "predicted_pairs": float(predicted_count),
    }
