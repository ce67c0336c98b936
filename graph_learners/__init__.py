"""Task-graph learners on PyTorch Geometric. Imports neither graphft nor transformers."""

from graph_learners.analysis import adjusted_rand_index, relation_clusters
from graph_learners.graph import GraphInputError, TaskGraph, validate_relation_matrix
from graph_learners.learners import FixedGraphLearner, GraphLearner, MessagePassingStack, StructureLearner
from graph_learners.regularisers import relation_regularisers

__all__ = [
    "FixedGraphLearner",
    "GraphInputError",
    "GraphLearner",
    "MessagePassingStack",
    "StructureLearner",
    "TaskGraph",
    "adjusted_rand_index",
    "relation_clusters",
    "relation_regularisers",
    "validate_relation_matrix",
]
