"""GraphFTModel: frozen backbone + adapter banks + path router + task-graph learner + task heads.

Axis legend: b batch, n tokens, v vocabulary, t tasks, l target layers, k modules, h hidden features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn import functional
from transformers import PreTrainedModel

from graph_learners import FixedGraphLearner, GraphLearner, StructureLearner, TaskGraph, validate_relation_matrix
from graphft.adapters import AdapterBanks, inject_adapter_banks
from graphft.config import GraphFTConfig
from graphft.errors import GraphError, RoutingError, TaskError
from graphft.heads import TaskHeads, masked_mean_pool
from graphft.priors import balance_loss, smoothness_loss
from graphft.routing import Router, RoutingOutput
from graphft.tasks.data import EncodedSplit, TaskData
from graphft.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from graphft.compose.new_task import AddedTask

__all__ = ["GraphFTModel", "GraphFTOutput"]

KIND_IDS = {"classification": 0, "regression": 1, "causal_lm": 2}


@dataclass
class GraphFTOutput:
    """Output of :meth:`GraphFTModel.forward`.

    Attributes:
        loss: task loss + weighted regularisers (None without labels).
        task_loss: mean per-example task loss.
        logits: (b, c) head logits (-inf beyond a task's classes); (b, n, v) LM logits for causal-LM models.
        pooled: (b, h) pooled backbone features.
        per_task_loss: (t) mean loss of each task in the batch (NaN for tasks absent from it).
        regularisers: unweighted regulariser values by name.
        routing: the router's decisions for every task.
    """

    loss: Tensor | None = None
    task_loss: Tensor | None = None
    logits: Tensor | None = None
    pooled: Tensor | None = None
    per_task_loss: Tensor | None = None
    regularisers: dict[str, Tensor] = field(default_factory=dict)
    routing: RoutingOutput | None = None


def hidden_size_of(backbone: PreTrainedModel) -> int:
    """Width of the backbone's hidden states."""
    config = backbone.config
    size = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None)
    if size is None:  # pragma: no cover - every supported transformers config has one of the two
        raise TaskError(f"cannot tell the hidden size of {type(backbone).__name__}; its config has no hidden_size.")
    return int(size)


def build_graph_learner(config: GraphFTConfig, task_names: list[str], feature_dim: int) -> GraphLearner | None:
    """The graph learner ``config.graph`` asks for (None for learner='none')."""
    graph = config.graph
    prior = None
    if graph.prior_relation_matrix is not None:
        prior = validate_relation_matrix(
            torch.tensor(graph.prior_relation_matrix, dtype=torch.float32), len(task_names), error=GraphError
        )
    common = {"embedding_dim": graph.embedding_dim, "conv": graph.conv, "num_layers": graph.num_layers}
    if graph.learner == "structure":
        return StructureLearner(
            task_names,
            feature_dim,
            prior=prior,
            prior_weight=graph.prior_weight,
            top_k=graph.top_k,
            symmetric=graph.symmetric,
            relation_temperature=graph.relation_temperature,
            **common,  # type: ignore[arg-type]
        )
    if graph.learner == "fixed":
        assert prior is not None  # GraphConfig guarantees it
        return FixedGraphLearner(task_names, prior, feature_dim, **common)  # type: ignore[arg-type]
    return None


class GraphFTModel(nn.Module):
    """The multi-task model: one frozen backbone, a bank of K low-rank modules in every target layer, a router
    that picks a sparse weighted path per task and layer, steered by a task graph learned with a GNN.

    Args:
        backbone: a transformers model (encoder, or decoder with an LM head for causal-LM tasks). It is frozen
            and adapter banks are injected into it in place.
        tasks: the task specs, in task-id order.
        config: the full configuration.
        task_features: (t, f) node features of the tasks (see :func:`graphft.descriptors.task_descriptors`);
            None uses one-hot features.

    Shapes:
        - input_ids, attention_mask: (b, n); task_ids: (b)
        - labels: (b) class ids or regression targets; (b, n) for causal LM (-100 ignored)
    """

    task_features: Tensor
    feature_mean: Tensor
    feature_scale: Tensor
    kind_ids: Tensor

    def __init__(
        self,
        backbone: PreTrainedModel,
        tasks: Sequence[TaskSpec],
        config: GraphFTConfig | None = None,
        task_features: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config or GraphFTConfig()
        self.tasks = list(tasks)
        if not self.tasks:
            raise TaskError("GraphFTModel needs at least one task.")
        names = [task.name for task in self.tasks]
        if len(set(names)) != len(names):
            raise TaskError(f"task names must be unique, got {names!r}.")
        kinds = {task.kind for task in self.tasks}
        if "causal_lm" in kinds and kinds != {"causal_lm"}:
            raise TaskError("a model's tasks are either all causal_lm or none; train LM tasks in a separate model.")
        self.language_modelling = kinds == {"causal_lm"}
        if self.language_modelling and backbone.get_output_embeddings() is None:
            raise TaskError(
                f"causal_lm tasks need a backbone with an LM head, got {type(backbone).__name__}; load it with "
                "load_backbone(..., causal_lm=True)."
            )
        self.backbone = backbone
        self.merged_task: str | None = None  # set by merge_task: the task folded into the base weights
        with torch.random.fork_rng(devices=[]):  # initialisation depends on training.seed alone
            torch.manual_seed(self.config.training.seed)
            self._build_parts(backbone, task_features)

    def _build_parts(self, backbone: PreTrainedModel, task_features: Tensor | None) -> None:
        names = [task.name for task in self.tasks]
        self.banks: AdapterBanks = inject_adapter_banks(backbone, self.config.adapter)
        self.layer_names = list(self.banks)
        if task_features is None:
            task_features = torch.eye(len(self.tasks))
        if task_features.ndim != 2 or task_features.shape[0] != len(self.tasks):
            raise TaskError(
                f"task_features must have shape ({len(self.tasks)}, f), one row per task, got "
                f"{tuple(task_features.shape)}."
            )
        self.register_buffer("task_features", task_features.float().clone())
        # Node features are standardised across tasks (per feature) before the graph learner sees them: raw
        # descriptors of one backbone are all alike (cosine ~0.97) and only their differences carry structure.
        self.register_buffer("feature_mean", self.task_features.mean(dim=0))
        self.register_buffer("feature_scale", self.task_features.std(dim=0, unbiased=False).clamp_min(1e-6))
        self.graph_learner = build_graph_learner(self.config, names, task_features.shape[1])
        embedding_dim = None if self.graph_learner is None else self.config.graph.embedding_dim
        self.router = Router(
            len(self.tasks), len(self.layer_names), self.config.adapter.num_modules, embedding_dim, self.config.router
        )
        self.heads = TaskHeads(hidden_size_of(backbone), self.tasks)
        self.register_buffer("kind_ids", torch.tensor([KIND_IDS[task.kind] for task in self.tasks]))

    # ------------------------------------------------------------------------------------------- inspection
    @property
    def task_names(self) -> list[str]:
        return [task.name for task in self.tasks]

    def task_id(self, name: str) -> int:
        """The id of the task called ``name``."""
        try:
            return self.task_names.index(name)
        except ValueError:
            raise RoutingError(f"unknown task {name!r}; known tasks: {', '.join(self.task_names)}.") from None

    def task_graph(self) -> TaskGraph | None:
        """The current task graph (with gradients), or None without a graph learner."""
        if self.graph_learner is None:
            return None
        return self.graph_learner(self.node_features())

    def node_features(self) -> Tensor:
        """The standardised task features the graph learner reads, (t, f)."""
        return (self.task_features - self.feature_mean) / self.feature_scale

    @torch.no_grad()
    def relation_matrix(self) -> Tensor:
        """The learned (or fixed) relation matrix R, (t, t); the identity without a graph learner."""
        graph = self.task_graph()
        if graph is None:
            return torch.eye(len(self.tasks))
        return graph.relation_matrix.detach().cpu()

    @torch.no_grad()
    def allocations(self) -> Tensor:
        """The deterministic gated paths, (t, l, k): what each task uses at inference."""
        was_training = self.router.training
        self.router.eval()
        weights = self.router(self.task_graph()).weights.detach().cpu()
        self.router.train(was_training)
        return weights

    # ---------------------------------------------------------------------------------------------- forward
    def _check_task_ids(self, task_ids: Tensor) -> None:
        if task_ids.ndim != 1:
            raise RoutingError(f"task_ids must be a (b) vector of task ids, got shape {tuple(task_ids.shape)}.")
        if task_ids.numel() and (int(task_ids.min()) < 0 or int(task_ids.max()) >= len(self.tasks)):
            raise RoutingError(
                f"task ids must lie in [0, {len(self.tasks) - 1}] (tasks: {', '.join(self.task_names)}), got "
                f"values in [{int(task_ids.min())}, {int(task_ids.max())}]; map names with model.task_id(name)."
            )

    def _check_merged_batch(self, task_ids: Tensor) -> None:
        """A merged model serves its merged task only, at inference."""
        if self.merged_task is None:
            raise RoutingError(
                "the adapter banks are merged but not by merge_task, so the model cannot tell which task the base "
                "weights now hold; call model.banks.unmerge() and use model.merge_task(name)."
            )
        if self.training:
            raise RoutingError(
                f"the model is merged for task {self.merged_task!r}, which serves inference only; call model.eval(), "
                "or model.unmerge() before training."
            )
        merged_id = self.task_id(self.merged_task)
        if bool((task_ids != merged_id).any()):
            others = sorted({self.task_names[int(t)] for t in task_ids.unique().tolist()} - {self.merged_task})
            raise RoutingError(
                f"the model is merged for task {self.merged_task!r} but the batch also holds {', '.join(others)}; "
                "call model.unmerge() for mixed-task batches."
            )

    def _route(self, routing: RoutingOutput, task_ids: Tensor) -> None:
        """Give each bank its per-example module weights for this batch."""
        per_example = routing.weights[task_ids]  # (b, l, k)
        compute_all = self.training and self.config.router.straight_through
        used = None if compute_all else (per_example != 0).any(dim=0).cpu()  # (l, k), one synchronisation
        for index, name in enumerate(self.layer_names):
            # Always hand over the active set when it is known, so no bank searches for it again (a second
            # synchronisation per layer); an all-active set costs nothing in the bank.
            active = None if used is None else used[index].nonzero().flatten().to(per_example.device)
            self.banks[name].set_module_weights(per_example[:, index], active, check=False)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        task_ids: Tensor,
        labels: Tensor | None = None,
        check_inputs: bool = True,
    ) -> GraphFTOutput:
        """Route every example through its task's path and compute task losses and regularisers.

        ``check_inputs=False`` skips the range checks of task ids and class labels, each a host-device
        synchronisation on accelerators; the training loop passes it for batches of validated
        :class:`~graphft.tasks.data.MultiTaskData`.
        """
        if check_inputs:
            self._check_task_ids(task_ids)
        graph = self.task_graph()
        routing = self.router(graph)
        if self.banks.merged:  # the task's path is in the base weights: the banks must not add it again
            self._check_merged_batch(task_ids)
            outputs = self.backbone(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        else:
            self._route(routing, task_ids)
            try:
                outputs = self.backbone(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            finally:
                self.banks.set_module_weights(None)
        hidden = outputs.hidden_states[-1]
        pooled = masked_mean_pool(hidden, attention_mask)
        logits = outputs.logits if self.language_modelling else self.heads(pooled, task_ids)
        regularisers = self._regularisers(graph, routing)
        result = GraphFTOutput(logits=logits, pooled=pooled, regularisers=regularisers, routing=routing)
        if labels is None:
            return result
        per_example = self._per_example_loss(logits, labels, task_ids, check_inputs)
        task_loss = per_example.mean()
        counts = torch.zeros(len(self.tasks), device=per_example.device).index_add_(
            0, task_ids, torch.ones_like(per_example)
        )
        sums = torch.zeros(len(self.tasks), device=per_example.device).index_add_(0, task_ids, per_example.detach())
        result.per_task_loss = sums / counts  # NaN where a task is absent
        result.task_loss = task_loss
        result.loss = task_loss + self._weighted(regularisers)
        return result

    def _per_example_loss(self, logits: Tensor, labels: Tensor, task_ids: Tensor, check: bool = True) -> Tensor:
        """Loss of each example under its task's kind; shape (b)."""
        if self.language_modelling:
            shifted = logits[:, :-1].flatten(0, 1).float()
            targets = labels[:, 1:].flatten().long()
            token_loss = functional.cross_entropy(shifted, targets, ignore_index=-100, reduction="none")
            token_loss = token_loss.view(labels.shape[0], -1)
            counted = (labels[:, 1:] != -100).float()
            return (token_loss * counted).sum(dim=1) / counted.sum(dim=1).clamp_min(1.0)
        kinds = self.kind_ids[task_ids]
        is_classification = kinds == KIND_IDS["classification"]
        class_targets = torch.where(is_classification, labels, torch.zeros_like(labels)).long()
        if check and bool(is_classification.any()):
            num_classes = self.heads.valid.sum(dim=1)[task_ids]
            bad = is_classification & ((class_targets < 0) | (class_targets >= num_classes))
            if bool(bad.any()):
                position = int(bad.nonzero()[0])
                task = self.tasks[int(task_ids[position])]
                raise TaskError(
                    f"label {int(labels[position])} is outside task {task.name!r}'s {task.num_labels} classes; "
                    f"labels must lie in [0, {task.num_labels - 1}]."
                )
        safe_logits = logits.float().masked_fill(~self.heads.valid[task_ids], -1e4)
        classification = functional.cross_entropy(safe_logits, class_targets, reduction="none")
        regression = (logits[:, 0].float() - labels.float()).pow(2)
        return torch.where(is_classification, classification, regression)

    def _regularisers(self, graph: TaskGraph | None, routing: RoutingOutput) -> dict[str, Tensor]:
        terms = {"balance": balance_loss(routing.allocations)}
        if graph is not None and self.graph_learner is not None:
            terms["relation"] = smoothness_loss(graph.relation_matrix, routing.allocations)
            for name, value in self.graph_learner.regularisers(graph).items():
                terms[f"relation_{name}"] = value
        return terms

    def _weighted(self, regularisers: dict[str, Tensor]) -> Tensor:
        strengths = self.config.regularisation
        total = torch.zeros((), device=next(iter(regularisers.values())).device)
        for name, value in regularisers.items():
            total = total + getattr(strengths, name) * value
        return total

    # ------------------------------------------------------------------------------------------- parameters
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by part: adapters, router, graph, heads (each gets its own learning rate)."""
        groups = {
            "adapters": list(self.banks.parameters()),
            "router": [p for p in self.router.parameters() if p.requires_grad],
            "graph": []
            if self.graph_learner is None
            else [p for p in self.graph_learner.parameters() if p.requires_grad],
            "heads": [] if self.language_modelling else [self.heads.weight, self.heads.bias],
        }
        return groups

    # ------------------------------------------------------------------------------------------ composition
    def merge_task(self, name: str) -> None:
        """Fold task ``name``'s path into the base weights; see :func:`graphft.compose.merge_task`."""
        from graphft.compose import merge_task

        merge_task(self, name)

    def unmerge(self) -> None:
        """Undo :meth:`merge_task`; see :func:`graphft.compose.unmerge`."""
        from graphft.compose import unmerge

        unmerge(self)

    def export_peft(self, task: str | int, directory: str | Path) -> Path:
        """Write a task's composed adapter as a PEFT LoRA checkpoint; see :func:`graphft.compose.export_peft`."""
        from graphft.compose import export_peft

        return export_peft(self, task, directory)

    def add_task(
        self,
        spec: TaskSpec,
        examples: TaskData | EncodedSplit | None = None,
        *,
        task_features: Tensor | None = None,
        relation_row: Sequence[float] | Tensor | None = None,
        share_head_with: str | None = None,
    ) -> AddedTask:
        """Add a new task, routed zero-shot by the graph prior; see :func:`graphft.compose.add_task`."""
        from graphft.compose import add_task

        return add_task(
            self,
            spec,
            examples,
            task_features=task_features,
            relation_row=relation_row,
            share_head_with=share_head_with,
        )

    def fit_new_task(self, name: str, data: TaskData | EncodedSplit, steps: int = 50, **options: Any) -> list[float]:
        """Train only task ``name``'s router logits and head; see :func:`graphft.compose.fit_new_task`."""
        from graphft.compose import fit_new_task

        return fit_new_task(self, name, data, steps, **options)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Save to ``directory`` (safetensors + JSON); see :func:`graphft.io.save_model`."""
        from graphft.io import save_model

        return save_model(self, directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, backbone: PreTrainedModel | None = None) -> GraphFTModel:
        """Load a model saved with :meth:`save_pretrained`; see :func:`graphft.io.load_model`."""
        from graphft.io import load_model

        return load_model(directory, backbone)

    def num_trainable_parameters(self) -> int:
        """Trainable parameters of the whole model (adapters, router, graph learner, heads)."""
        return sum(p.numel() for group in self.parameter_groups().values() for p in group)
