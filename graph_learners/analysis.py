"""Reading a relation matrix: clusters of tasks and their agreement with known groups.

Axis legend: v graph nodes (tasks).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import SpectralClustering
from sklearn.metrics import adjusted_rand_score
from torch import Tensor

__all__ = ["adjusted_rand_index", "relation_clusters"]


def relation_clusters(relation_matrix: Tensor, num_clusters: int, seed: int = 0) -> list[int]:
    """Spectral clustering of the tasks with R (symmetrised) as the affinity; one label per task.

    Shapes:
        - relation_matrix: (v, v)
    """
    matrix = relation_matrix.detach().float().cpu().numpy()
    affinity = (matrix + matrix.T) / 2
    np.fill_diagonal(affinity, affinity.max() if affinity.size else 1.0)
    model = SpectralClustering(n_clusters=num_clusters, affinity="precomputed", random_state=seed)
    return [int(label) for label in model.fit_predict(affinity + 1e-9)]


def adjusted_rand_index(relation_matrix: Tensor, true_clusters: list[int], seed: int = 0) -> float:
    """ARI between the spectral clusters of R and known cluster labels (1 = perfect, ~0 = chance)."""
    found = relation_clusters(relation_matrix, len(set(true_clusters)), seed=seed)
    return float(adjusted_rand_score(true_clusters, found))
