"""TaskGraph: the one type shared between graph learners and their consumers.

Axis legend: v graph nodes (tasks), d embedding features, e edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.utils import dense_to_sparse

__all__ = ["GraphInputError", "TaskGraph", "validate_relation_matrix"]


class GraphInputError(ValueError):
    """A relation matrix, node feature matrix or task list is malformed."""


def validate_relation_matrix(
    relation_matrix: Tensor, num_nodes: int | None = None, error: type[Exception] = GraphInputError
) -> Tensor:
    """Check that ``relation_matrix`` is a finite, non-negative, square (v, v) matrix and return it as float.

    Args:
        relation_matrix: candidate (v, v) matrix.
        num_nodes: the expected v, if known.
        error: the exception type to raise (consumers pass their own).

    Raises:
        error: not square, wrong size, negative entries, NaN or inf.
    """
    try:
        matrix = torch.as_tensor(relation_matrix)
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise error(
            f"a relation matrix must be a (v, v) tensor or a list of equally long lists of numbers, got "
            f"{relation_matrix!r} ({exc})."
        ) from exc
    if matrix.is_complex():
        raise error(f"a relation matrix must hold real numbers, got dtype {matrix.dtype}; convert it to float.")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise error(f"a relation matrix must be square (v, v), got shape {tuple(matrix.shape)}.")
    if num_nodes is not None and matrix.shape[0] != num_nodes:
        raise error(
            f"the relation matrix is {matrix.shape[0]} x {matrix.shape[0]} but there are {num_nodes} tasks; "
            "give one row and column per task, in task order."
        )
    matrix = matrix.float()
    if not bool(torch.isfinite(matrix).all()):
        raise error("the relation matrix contains NaN or inf; replace them with non-negative numbers.")
    if bool((matrix < 0).any()):
        raise error(
            f"the relation matrix has negative entries (min {float(matrix.min()):.3g}); relations must be >= 0."
        )
    return matrix


@dataclass
class TaskGraph:
    """A graph over tasks: relation strengths, node embeddings and the sparse edge view of the relations.

    Attributes:
        relation_matrix: R, (v, v), non-negative; R[i, j] is how strongly task i relates to task j.
        node_embeddings: (v, d) task embeddings after message passing.
        edge_index: (2, e) the non-zero entries of R as edges (source, target).
        edge_weight: (e) their weights.
        task_names: v names, in node order.
    """

    relation_matrix: Tensor
    node_embeddings: Tensor
    edge_index: Tensor
    edge_weight: Tensor
    task_names: list[str]

    @classmethod
    def from_relation_matrix(cls, relation_matrix: Tensor, node_embeddings: Tensor, task_names: list[str]) -> TaskGraph:
        """Build the graph and its edge view from a dense relation matrix (gradients are kept)."""
        if len(task_names) != relation_matrix.shape[0] or node_embeddings.shape[0] != relation_matrix.shape[0]:
            raise GraphInputError(
                f"{len(task_names)} task names, {node_embeddings.shape[0]} embeddings and a "
                f"{relation_matrix.shape[0]}-node relation matrix: give one of each per task."
            )
        edge_index, edge_weight = dense_to_sparse(relation_matrix)
        return cls(relation_matrix, node_embeddings, edge_index, edge_weight, list(task_names))

    @property
    def num_tasks(self) -> int:
        """v, the number of task nodes."""
        return len(self.task_names)

    def detach(self) -> TaskGraph:
        """A copy without autograd history (for inspection and saving)."""
        return TaskGraph(
            self.relation_matrix.detach(),
            self.node_embeddings.detach(),
            self.edge_index,
            self.edge_weight.detach(),
            list(self.task_names),
        )
