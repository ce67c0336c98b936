"""Graph learners, one per file."""

from graph_learners.learners.base import GraphLearner
from graph_learners.learners.fixed import FixedGraphLearner
from graph_learners.learners.message_passing import MessagePassingStack
from graph_learners.learners.structure import StructureLearner

__all__ = ["FixedGraphLearner", "GraphLearner", "MessagePassingStack", "StructureLearner"]
