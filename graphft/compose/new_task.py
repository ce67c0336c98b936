"""A new task joins a trained model: a graph node, router logits and a head, routed zero-shot by the graph prior.

Axis legend: t tasks, l target layers, k modules, c classes, h hidden features, f node features, d embedding
features.

What grows, and how it starts:

- ``task_features`` gains the new task's row: its descriptor (:func:`graphft.descriptors.task_descriptors`
  of a few examples, on the backbone with the adapters inactive) or the features you give. The standardisation
  (``feature_mean``, ``feature_scale``) is kept as trained, so the existing tasks' node features do not move.
- The graph learner gains a node. Its learnable task embedding starts at zero, so the new node is placed by
  its features alone. A structure learner scores the new node's relations from features (plus
  ``relation_row`` when it has a user prior); a fixed learner has no other source of relations, so it needs
  ``relation_row``: the new task's relation to each existing task, used as row and column of R (the new
  diagonal entry is the mean of the old diagonal).
- The router's free logits gain a row: the relation-weighted average of the known tasks' free logits,
  :math:`F_{new} = \\sum_u R_{new,u} F_u / \\sum_u R_{new,u}` (zero when the new task relates to none), so the
  new task starts on the paths of the tasks it relates to, plus the graph prior's MLP term (zero-shot
  composition). With ``RouterConfig.neighbour_prior=True`` the prior adds that average itself and the row
  starts at zero. Without a graph prior (``learner='none'`` or ``prior_strength=0``) the row is zero: the
  uniform mix of all modules.
- The heads gain a row: a fresh head (initialised like the others, from ``training.seed``) for
  :func:`graphft.compose.fit_new_task` to train on the frozen composed features, or a copy of a known task's
  head (``share_head_with``) when both have the same label space, which gives zero-shot predictions.

A new node can change the existing tasks' relations (the structure learner's row softmax now spans it, and
message passing reaches it), and so their paths; :class:`AddedTask` reports the largest change per task. With
a fixed graph and a zero ``relation_row`` they do not change.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from graph_learners import validate_relation_matrix
from graphft.descriptors import task_descriptors
from graphft.errors import AdapterError, GraphError, TaskError
from graphft.model import KIND_IDS, GraphFTModel
from graphft.priors import neighbour_average
from graphft.tasks.data import EncodedSplit, MultiTaskData, TaskData
from graphft.tasks.spec import TaskSpec

__all__ = ["AddedTask", "add_task"]


@dataclass
class AddedTask:
    """What :func:`add_task` did.

    Attributes:
        name: the new task's name.
        task_id: its id (the last one).
        routing_shift: (t_old) for each existing task, the largest absolute change of its deterministic path
            weights caused by the new node (0 when its routing is unchanged).
    """

    name: str
    task_id: int
    routing_shift: Tensor


def add_task(
    model: GraphFTModel,
    spec: TaskSpec,
    examples: TaskData | EncodedSplit | None = None,
    *,
    task_features: Tensor | None = None,
    relation_row: Sequence[float] | Tensor | None = None,
    share_head_with: str | None = None,
) -> AddedTask:
    """Add task ``spec`` to ``model`` in place (see the module docstring for what grows and how it starts).

    Args:
        model: the trained model (not merged).
        spec: the new task.
        examples: a few examples of the task (its ``train`` split is used), to compute its descriptor.
        task_features: (f) the new task's node features, instead of ``examples``.
        relation_row: (t_old) non-negative relations of the new task to the existing ones; required with a fixed
            graph, optional with a structure learner that has a user prior.
        share_head_with: copy this known task's head (same kind and label names).

    Returns:
        An :class:`AddedTask`. Parameters are replaced by larger ones: build optimizers after adding tasks.

    Raises:
        TaskError: the name exists, the kind does not fit the model, both or neither of ``examples`` and
            ``task_features`` are given, the features have the wrong width, or the shared head's label space
            differs.
        GraphError: a bad ``relation_row``, or one the graph learner cannot take (or lacks).
        AdapterError: the model is merged.
    """
    if model.banks.merged:
        raise AdapterError(f"the model is merged for {model.merged_task!r}; call model.unmerge() before add_task.")
    _check_spec(model, spec)
    features = _new_features(model, spec, examples, task_features)
    prior = _extended_prior(model, relation_row)
    source = None if share_head_with is None else _shared_head_source(model, spec, share_head_with)
    before = model.allocations()
    old_count = len(model.tasks)
    model.config = copy.deepcopy(model.config)  # the config may be shared with other models
    model.tasks.append(spec)
    model.task_features = torch.cat([model.task_features, features.to(model.task_features)[None]])
    model.kind_ids = torch.cat([model.kind_ids, model.kind_ids.new_tensor([KIND_IDS[spec.kind]])])
    learner = model.graph_learner
    if learner is not None:
        learner.task_names.append(spec.name)
        learner.task_embedding = _grown(learner.task_embedding, torch.zeros(1, learner.embedding_dim))
        if prior is not None:
            learner.prior = prior.to(learner.task_embedding.device)
            model.config.graph.prior_relation_matrix = prior.tolist()
    router = model.router
    router.free_logits = _grown(router.free_logits, torch.zeros(1, router.num_layers, router.num_modules))
    with torch.no_grad():
        router.free_logits[old_count] = _neighbour_logits(model, old_count)
    _grow_heads(model, spec, source)
    shift = (model.allocations()[:old_count] - before).abs().amax(dim=(1, 2))
    return AddedTask(spec.name, old_count, shift)


def _neighbour_logits(model: GraphFTModel, new_id: int) -> Tensor:
    """The relation-weighted average of the known tasks' free logits, (l, k); zero where the router's prior
    already adds it (``neighbour_prior``), where there is no graph prior, or where the new task relates to none."""
    router = model.router
    zeros = torch.zeros_like(router.free_logits[new_id])
    config = model.config.router
    if router.prior is None or config.neighbour_prior or config.prior_strength == 0:
        return zeros
    graph = model.task_graph()
    if graph is None:
        return zeros
    return neighbour_average(graph.relation_matrix[new_id : new_id + 1, :new_id], router.free_logits[:new_id])[0]


def _check_spec(model: GraphFTModel, spec: TaskSpec) -> None:
    if spec.name in model.task_names:
        raise TaskError(
            f"the model already has a task called {spec.name!r} (tasks: {', '.join(model.task_names)}); give the "
            "new task another name."
        )
    if (spec.kind == "causal_lm") != model.language_modelling:
        wanted = "causal_lm" if model.language_modelling else "classification or regression"
        raise TaskError(f"task {spec.name!r} is {spec.kind} but this model's tasks are {wanted}; add a {wanted} task.")


def _new_features(
    model: GraphFTModel, spec: TaskSpec, examples: TaskData | EncodedSplit | None, task_features: Tensor | None
) -> Tensor:
    """The new task's node features, (f)."""
    width = int(model.task_features.shape[1])
    if (examples is None) == (task_features is None):
        raise TaskError(
            f"add_task needs either examples (to compute task {spec.name!r}'s descriptor) or task_features "
            f"(a vector of {width} features), not both or neither."
        )
    if task_features is None:
        assert examples is not None
        data = examples if isinstance(examples, TaskData) else TaskData(spec, examples, examples, examples)
        features = task_descriptors(
            model.backbone,
            MultiTaskData([data]),
            num_examples=model.config.graph.descriptor_examples,
            seed=model.config.training.seed,
        )[0]
        origin = "descriptors computed from examples"
    else:
        features, origin = torch.as_tensor(task_features).float().flatten(), "task_features"
    if features.shape != (width,):
        raise TaskError(
            f"the model's task features have {width} columns but the new task's {origin} have shape "
            f"{tuple(features.shape)}; give task_features with {width} values (the model was built with "
            "different features, e.g. one-hot ones, if descriptors do not fit)."
        )
    if not bool(torch.isfinite(features).all()):
        raise TaskError(f"task {spec.name!r}'s features contain NaN or inf; give finite features.")
    return features


def _extended_prior(model: GraphFTModel, relation_row: Sequence[float] | Tensor | None) -> Tensor | None:
    """The graph learner's prior R0 grown by the new task's row and column (None when it keeps none)."""
    learner = model.graph_learner
    old_count = len(model.tasks)
    if learner is None:
        if relation_row is not None:
            raise GraphError("this model has no graph learner (learner='none'), so relation_row has no effect.")
        return None
    prior = learner.prior if isinstance(learner.prior, Tensor) else None
    if prior is None:
        if relation_row is not None:
            raise GraphError(
                "this structure learner was built without a user prior R0, so it cannot take relation_row; the new "
                "task's relations are scored from its features."
            )
        return None
    if relation_row is None:
        if model.config.graph.learner == "fixed":
            raise GraphError(
                f"a fixed task graph cannot relate a new task by itself; pass relation_row=[...] with {old_count} "
                "non-negative relations to the existing tasks, in task order (zeros: unrelated)."
            )
        relation_row = torch.zeros(old_count)
    row = torch.as_tensor(relation_row, dtype=torch.float32).flatten()
    if row.shape != (old_count,):
        raise GraphError(
            f"relation_row must hold one relation per existing task ({old_count}), got shape {tuple(row.shape)}."
        )
    prior = prior.detach().cpu().float()
    diagonal = prior.diagonal().mean()
    grown = torch.cat([torch.cat([prior, row[:, None]], dim=1), torch.cat([row, diagonal[None]])[None]])
    return validate_relation_matrix(grown, old_count + 1, error=GraphError)


def _shared_head_source(model: GraphFTModel, spec: TaskSpec, name: str) -> int:
    source = model.task_id(name)
    known = model.tasks[source]
    if model.language_modelling or known.kind != spec.kind or known.label_names != spec.label_names:
        raise TaskError(
            f"task {spec.name!r} ({spec.kind}, labels {spec.label_names}) cannot share the head of {name!r} "
            f"({known.kind}, labels {known.label_names}); a shared head needs the same kind and label names, in "
            "order (causal-LM models have no task heads)."
        )
    return source


def _grown(parameter: nn.Parameter, row: Tensor) -> nn.Parameter:
    """``parameter`` with ``row`` appended along the first axis (same dtype, device and trainability)."""
    data = torch.cat([parameter.detach(), row.to(parameter)])
    return nn.Parameter(data, requires_grad=parameter.requires_grad)


@torch.no_grad()
def _grow_heads(model: GraphFTModel, spec: TaskSpec, source: int | None) -> None:
    """Append a head row (fresh, or copied from ``source``), widening every head if the task has more classes."""
    heads = model.heads
    count, width, hidden = heads.weight.shape
    new_width = max(width, spec.num_labels)
    weight = heads.weight.detach().new_zeros(count + 1, new_width, hidden)
    bias = heads.bias.detach().new_zeros(count + 1, new_width)
    old_valid: Tensor = heads.valid  # type: ignore[assignment]
    valid = old_valid.new_zeros(count + 1, new_width)
    weight[:count, :width], bias[:count, :width], valid[:count, :width] = heads.weight, heads.bias, old_valid
    if source is not None:
        weight[count, :width], bias[count, :width] = heads.weight[source], heads.bias[source]
    else:
        generator = torch.Generator().manual_seed(model.config.training.seed + count)
        bound = 1.0 / math.sqrt(hidden)
        fresh = torch.empty(spec.num_labels, hidden).uniform_(-bound, bound, generator=generator)
        weight[count, : spec.num_labels] = fresh.to(weight)
    valid[count, : spec.num_labels] = True
    heads.weight = nn.Parameter(weight, requires_grad=heads.weight.requires_grad)
    heads.bias = nn.Parameter(bias, requires_grad=heads.bias.requires_grad)
    heads.valid = valid
