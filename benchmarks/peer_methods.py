"""The eight methods of the peers benchmark behind one small interface, and the loop that trains them alike.

Axis legend: b batch, n tokens, h hidden features, t tasks, c classes (padded to the widest task).

Every non-graphft method encodes a batch with its (adapted) backbone, mean-pools the last hidden states over
real tokens and applies the same per-task linear heads (:class:`graphft.heads.TaskHeads`); graphft is
:class:`~graphft.model.GraphFTModel` as is (identical heads, plus its router and graph regularisers in the loss).
All methods see the same batches (one :class:`MultiTaskSampler` per seed), AdamW, gradient clipping, and the
learning rates of :class:`~graphft.config.TrainingConfig` for comparable parts (adapters ``lr_adapters``, task
routers ``lr_router``, heads ``lr_heads``); only full fine-tuning's backbone gets its own, smaller rate.
"""

from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from peft import LoraConfig, PeftModel, PolyConfig, get_peft_model
from sklearn.metrics import f1_score
from torch import Tensor, nn
from torch.nn import functional
from transformers import PreTrainedModel

from graphft.backbones import load_backbone
from graphft.config import AdapterConfig, GraphConfig, GraphFTConfig, RouterConfig, TrainingConfig
from graphft.descriptors import task_descriptors
from graphft.heads import TaskHeads, masked_mean_pool
from graphft.model import GraphFTModel
from graphft.routing import temperature_at
from graphft.tasks.data import MultiTaskData
from graphft.tasks.sampling import MultiTaskSampler

METHODS = (
    "full_ft",
    "shared_lora",
    "per_task_lora",
    "poly",
    "mhr",
    "graphft_no_prior",
    "graphft_fixed_prior",
    "graphft_learned",
)
GRAPHFT_LEARNERS = {"graphft_no_prior": "none", "graphft_fixed_prior": "fixed", "graphft_learned": "structure"}
Batch = dict[str, Tensor]


@dataclass
class PeerConfig:
    """Method hyperparameters shared across the comparison (the loop's own live in TrainingConfig)."""

    targets: list[str] = field(default_factory=lambda: ["query", "value"])
    rank: int = 8  # LoRA rank of every LoRA-like method (Poly/MHR skills too)
    alpha: float = 16.0  # LoRA and graphft scaling numerator (PEFT Poly scales by 1 / r, it has no alpha)
    skills: int = 8  # Poly / MHR n_skills
    splits: int = 4  # MHR n_splits (Poly is n_splits = 1)
    lr_full: float = 5e-5  # full fine-tuning's backbone (2e-3, the adapters' rate, diverges on a full model)
    graphft_modules: int = 7  # K; chosen by graphft_budget so graphft stays within per-task LoRA and Poly
    graphft_rank: int = 8
    layers: int | None = None  # keep only the backbone's first layers (quick runs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classification_loss(logits: Tensor, labels: Tensor, valid: Tensor) -> Tensor:
    """Mean cross-entropy with classes beyond each task's count masked out (as GraphFTModel does).

    Shapes:
        - logits, valid: (b, c); labels: (b)
    """
    return functional.cross_entropy(logits.float().masked_fill(~valid, -1e4), labels.long())


class PeerMethod(ABC):
    """One method: a module to train, its AdamW parameter groups and a forward that returns the loss."""

    name: str
    module: nn.Module

    @abstractmethod
    def parameter_groups(self, training: TrainingConfig) -> list[dict[str, Any]]:
        """AdamW groups ``{"params", "lr", "name"}``; group "heads" holds the per-task heads."""

    @abstractmethod
    def forward(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """(logits (b, c), loss to optimise, mean task loss) of a collated batch."""

    def before_step(self, step: int, steps: int) -> None:
        """Called before every training step (graphft anneals its routing temperature here)."""
        return None

    def shared_adapter_parameters(self) -> list[nn.Parameter]:
        """Adapter parameters every task trains (for gradient conflict); empty where there are none."""
        return []

    def train(self, mode: bool = True) -> None:
        self.module.train(mode)

    def parameter_counts(self, training: TrainingConfig) -> dict[str, int]:
        """Trainable parameters: all, and without the (identical) task heads."""
        seen: dict[int, tuple[str, int]] = {}
        for group in self.parameter_groups(training):
            for parameter in group["params"]:
                seen[id(parameter)] = (group["name"], parameter.numel())
        total = sum(count for _, count in seen.values())
        heads = sum(count for name, count in seen.values() if name == "heads")
        return {"trainable": total, "trainable_without_heads": total - heads}


class HeadsMethod(PeerMethod):
    """A backbone-based encoder + masked mean pooling + the shared per-task heads; subclasses say how to encode."""

    def __init__(self, name: str, encoder: nn.Module, data: MultiTaskData, hidden_size: int) -> None:
        self.name = name
        self.encoder = encoder
        self.heads = TaskHeads(hidden_size, data.specs)
        self.module = nn.ModuleDict({"encoder": encoder, "heads": self.heads})

    @abstractmethod
    def encode(self, input_ids: Tensor, attention_mask: Tensor, task_ids: Tensor) -> Tensor:
        """Pooled features (b, h)."""

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        pooled = self.encode(batch["input_ids"], batch["attention_mask"], batch["task_ids"])
        logits = self.heads(pooled, batch["task_ids"])
        loss = classification_loss(logits, batch["labels"], self.heads.valid[batch["task_ids"]])
        return logits, loss, loss

    def heads_group(self, training: TrainingConfig) -> dict[str, Any]:
        return {"params": [self.heads.weight, self.heads.bias], "lr": training.lr_heads, "name": "heads"}


class FullFineTuning(HeadsMethod):
    """Every backbone weight trains (shared by all tasks); per-task heads."""

    def __init__(self, backbone: PreTrainedModel, data: MultiTaskData, peer: PeerConfig) -> None:
        backbone.requires_grad_(True)
        super().__init__("full_ft", backbone, data, backbone.config.hidden_size)
        self.lr_full = peer.lr_full

    def encode(self, input_ids: Tensor, attention_mask: Tensor, task_ids: Tensor) -> Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return masked_mean_pool(hidden, attention_mask)

    def parameter_groups(self, training: TrainingConfig) -> list[dict[str, Any]]:
        backbone = {"params": list(self.encoder.parameters()), "lr": self.lr_full, "name": "backbone"}
        return [backbone, self.heads_group(training)]


class PeftMethod(HeadsMethod):
    """A PEFT model (shared LoRA, Poly or MHR); Poly-family models get the batch's task ids as ``task_ids``."""

    def __init__(self, name: str, peft_model: PeftModel, data: MultiTaskData, pass_task_ids: bool) -> None:
        super().__init__(name, peft_model, data, peft_model.base_model.model.config.hidden_size)
        self.peft_model = peft_model
        self.pass_task_ids = pass_task_ids

    def encode(self, input_ids: Tensor, attention_mask: Tensor, task_ids: Tensor) -> Tensor:
        extra = {"task_ids": task_ids} if self.pass_task_ids else {}
        # base_model is PEFT's tuner (LoraModel / PolyModel): PolyModel.forward hands task_ids to every layer.
        hidden = self.peft_model.base_model(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return masked_mean_pool(hidden.last_hidden_state, attention_mask)

    def parameter_groups(self, training: TrainingConfig) -> list[dict[str, Any]]:
        adapters, routers = [], []
        for name, parameter in self.peft_model.named_parameters():
            if "poly_router" in name:
                routers.append(parameter)
            elif "lora_" in name:
                adapters.append(parameter)
        groups = [{"params": adapters, "lr": training.lr_adapters, "name": "adapters"}]
        if routers:
            groups.append({"params": routers, "lr": training.lr_router, "name": "router"})
        return [*groups, self.heads_group(training)]

    def shared_adapter_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.peft_model.named_parameters() if "lora_" in n and "poly_router" not in n]


class PerTaskLoRA(PeftMethod):
    """One PEFT LoRA adapter per task. PEFT refuses mixed-batch ``adapter_names`` in training mode, so a mixed
    batch is grouped by task: each group runs with its task's adapter active, and the pooled features are put
    back in batch order (one backward for the whole batch)."""

    def __init__(self, peft_model: PeftModel, data: MultiTaskData) -> None:
        super().__init__("per_task_lora", peft_model, data, pass_task_ids=False)
        self.adapter_names = list(data.names)

    def encode(self, input_ids: Tensor, attention_mask: Tensor, task_ids: Tensor) -> Tensor:
        pooled, rows = [], []
        for task in task_ids.unique().tolist():
            selected = (task_ids == task).nonzero().flatten()
            self.peft_model.base_model.set_adapter(self.adapter_names[task])
            # set_adapter freezes the other adapters; keep all trainable so earlier groups' graphs stay valid.
            self.peft_model.set_requires_grad(self.adapter_names, requires_grad=True)
            mask = attention_mask[selected]
            hidden = self.peft_model.base_model(input_ids=input_ids[selected], attention_mask=mask).last_hidden_state
            pooled.append(masked_mean_pool(hidden, mask))
            rows.append(selected)
        return torch.cat(pooled)[torch.argsort(torch.cat(rows))]

    def shared_adapter_parameters(self) -> list[nn.Parameter]:
        return []  # nothing is shared: every adapter sees one task only


class GraphFTMethod(PeerMethod):
    """graphft as is: GraphFTModel's forward, loss (task loss + regularisers) and temperature annealing."""

    def __init__(self, name: str, model: GraphFTModel) -> None:
        self.name = name
        self.model = model
        self.module = model

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        output = self.model(**batch)
        assert output.logits is not None and output.loss is not None and output.task_loss is not None
        return output.logits, output.loss, output.task_loss

    def before_step(self, step: int, steps: int) -> None:
        self.model.router.set_temperature(temperature_at(step, steps, self.model.config.router))

    def parameter_groups(self, training: TrainingConfig) -> list[dict[str, Any]]:
        rates = {
            "adapters": training.lr_adapters,
            "router": training.lr_router,
            "graph": training.lr_graph,
            "heads": training.lr_heads,
        }
        groups = self.model.parameter_groups()
        return [{"params": params, "lr": rates[name], "name": name} for name, params in groups.items() if params]

    def shared_adapter_parameters(self) -> list[nn.Parameter]:
        return list(self.model.banks.parameters())


# -------------------------------------------------------------------------------------------------- building
def descriptor_prior(features: Tensor) -> Tensor:
    """Fixed prior R0 from task descriptors: cosine similarity of the per-feature standardised descriptors
    (raw descriptors of one backbone are all ~0.97 alike), negatives clipped to 0, zero diagonal. Shape (t, t)."""
    standardised = (features - features.mean(dim=0)) / features.std(dim=0, unbiased=False).clamp_min(1e-6)
    normalised = functional.normalize(standardised, dim=1)
    return (normalised @ normalised.T).clamp_min(0.0).fill_diagonal_(0.0)


def graphft_config(
    name: str,
    peer: PeerConfig,
    training: TrainingConfig,
    prior: Tensor | None,
    router: dict[str, Any] | None = None,
) -> GraphFTConfig:
    """graphft's defaults with the peer comparison's budget (K, r), targets and learner; ``router`` overrides
    RouterConfig fields (the ablations ``peers --graphft-neighbour-prior`` and ``--graphft-router``)."""
    learner = GRAPHFT_LEARNERS[name]
    return GraphFTConfig(
        backbone="minilm",
        num_hidden_layers=peer.layers,
        adapter=AdapterConfig(
            num_modules=peer.graphft_modules, rank=peer.graphft_rank, alpha=peer.alpha, target_modules=peer.targets
        ),
        graph=GraphConfig(
            learner=learner, prior_relation_matrix=prior.tolist() if learner == "fixed" and prior is not None else None
        ),
        router=RouterConfig(**(router or {})),
        training=training,
    )


def build_peft(name: str, backbone: PreTrainedModel, data: MultiTaskData, peer: PeerConfig) -> PeftModel:
    """The PEFT model of a PEFT method (call under the run's seed: PEFT initialises A randomly)."""
    if name in ("shared_lora", "per_task_lora"):
        lora = LoraConfig(r=peer.rank, lora_alpha=int(peer.alpha), target_modules=list(peer.targets), lora_dropout=0.0)
        if name == "shared_lora":
            return get_peft_model(backbone, lora)
        model = get_peft_model(backbone, lora, adapter_name=data.names[0])
        for task in data.names[1:]:
            model.add_adapter(task, copy.deepcopy(lora))
        return model
    splits = peer.splits if name == "mhr" else 1
    poly = PolyConfig(
        r=peer.rank,
        target_modules=list(peer.targets),
        poly_type="poly",
        n_tasks=len(data),
        n_skills=peer.skills,
        n_splits=splits,
    )
    return get_peft_model(backbone, poly)


def build_method(
    name: str,
    data: MultiTaskData,
    peer: PeerConfig,
    training: TrainingConfig,
    backbone: PreTrainedModel | None = None,
    router: dict[str, Any] | None = None,
) -> PeerMethod:
    """Build method ``name`` on a fresh MiniLM (or a copy of ``backbone``), initialised under ``training.seed``
    (``router``: see :func:`graphft_config`)."""
    backbone = copy.deepcopy(backbone) if backbone is not None else load_backbone("minilm", peer.layers)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(training.seed)
        if name == "full_ft":
            return FullFineTuning(backbone, data, peer)
        if name in ("shared_lora", "poly", "mhr"):
            return PeftMethod(name, build_peft(name, backbone, data, peer), data, pass_task_ids=name != "shared_lora")
        if name == "per_task_lora":
            return PerTaskLoRA(build_peft(name, backbone, data, peer), data)
        if name in GRAPHFT_LEARNERS:
            features = task_descriptors(backbone, data)  # before injection: describes the data, not the model
            config = graphft_config(name, peer, training, descriptor_prior(features), router)
            return GraphFTMethod(name, GraphFTModel(backbone, data.specs, config, task_features=features))
    raise ValueError(f"unknown method {name!r}; use one of {', '.join(METHODS)}.")


def graphft_budget(data: MultiTaskData, peer: PeerConfig, backbone: PreTrainedModel) -> dict[str, int]:
    """Choose graphft's K (rank ``peer.graphft_rank``; lower rank at K=2 if even that does not fit) so that its
    trainable parameters without heads stay <= both per-task LoRA's and Poly's; returns the counts."""
    training = TrainingConfig(progress=False)
    counts = {
        name: build_method(name, data, peer, training, backbone).parameter_counts(training)["trainable_without_heads"]
        for name in ("per_task_lora", "poly")
    }
    budget = min(counts.values())
    features = torch.zeros(len(data), backbone.config.hidden_size + 3)

    def graphft_count(modules: int, rank: int) -> int:
        trial = PeerConfig(**{**peer.to_dict(), "graphft_modules": modules, "graphft_rank": rank})
        config = graphft_config("graphft_learned", trial, training, None)
        model = GraphFTModel(copy.deepcopy(backbone), data.specs, config, task_features=features)
        return GraphFTMethod("graphft_learned", model).parameter_counts(training)["trainable_without_heads"]

    choice = None
    for modules in range(max(peer.skills, 2), 1, -1):
        if graphft_count(modules, peer.graphft_rank) <= budget:
            choice = (modules, peer.graphft_rank)
            break
    if choice is None:  # tiny problems: keep K=2 and lower the rank
        rank = peer.graphft_rank
        while rank > 1 and graphft_count(2, rank) > budget:
            rank -= 1
        choice = (2, rank)
    return {
        "per_task_lora": counts["per_task_lora"],
        "poly": counts["poly"],
        "budget": budget,
        "graphft_modules": choice[0],
        "graphft_rank": choice[1],
        "graphft": graphft_count(*choice),
    }


# ----------------------------------------------------------------------------------------- training, eval
def build_optimizer(method: PeerMethod, training: TrainingConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(method.parameter_groups(training), weight_decay=training.weight_decay)


def train_step(method: PeerMethod, optimizer: torch.optim.Optimizer, batch: Batch, grad_clip: float) -> float:
    """One forward, backward and AdamW step; returns the task loss."""
    _, loss, task_loss = method.forward(batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    return float(task_loss.detach())


def train_method(method: PeerMethod, data: MultiTaskData, training: TrainingConfig) -> dict[str, Any]:
    """Train ``method`` for ``training.steps`` steps on batches of the seeded multi-task sampler."""
    torch.manual_seed(training.seed)
    sampler = MultiTaskSampler(
        data.sizes("train"), training.batch_size, training.task_sampling_temperature, training.seed
    )
    optimizer = build_optimizer(method, training)
    method.train()
    losses = []
    start = time.perf_counter()
    for step in range(training.steps):
        method.before_step(step, training.steps)
        task_ids, indices = sampler.next_batch()
        losses.append(train_step(method, optimizer, data.batch("train", task_ids, indices), training.grad_clip))
    method.train(False)
    tail = losses[-max(1, len(losses) // 10) :]
    return {"train_seconds": time.perf_counter() - start, "final_train_loss": sum(tail) / len(tail)}


@torch.no_grad()
def evaluate_method(method: PeerMethod, data: MultiTaskData, split: str = "test", batch_size: int = 64) -> dict:
    """Accuracy and macro-F1 of every task on ``split``, and their averages over tasks (eval mode)."""
    method.train(False)
    results: dict[str, dict[str, float]] = {}
    for task_id, task in enumerate(data.tasks):
        encoded = task.split(split)
        predictions = []
        for start in range(0, len(encoded), batch_size):
            indices = torch.arange(start, min(start + batch_size, len(encoded)))
            task_ids = torch.full((len(indices),), task_id, dtype=torch.long)
            logits, _, _ = method.forward(data.batch(split, task_ids, indices))
            predictions.append(logits.argmax(dim=-1))
        predicted, true = torch.cat(predictions).numpy(), encoded.labels.long().numpy()
        results[task.spec.name] = {
            "accuracy": float((predicted == true).mean()),
            "macro_f1": float(f1_score(true, predicted, average="macro", zero_division=0)),
        }
    results["average"] = {
        key: sum(metrics[key] for metrics in results.values()) / len(data) for key in ("accuracy", "macro_f1")
    }
    return results
