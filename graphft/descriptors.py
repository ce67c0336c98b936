"""Task descriptors: node features of the task graph computed from the frozen backbone and the labels.

Axis legend: t tasks, m examples, n tokens, h hidden features, f descriptor features.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional
from transformers import PreTrainedModel

from graphft.heads import masked_mean_pool
from graphft.tasks.data import MultiTaskData, TaskData

__all__ = ["label_statistics", "task_descriptors"]


def label_statistics(task: TaskData) -> Tensor:
    """Three label features of a task's training split: normalised label entropy, log class count / log 100,
    and whether it is a regression task.

    Shapes:
        - returns: (3)
    """
    spec = task.spec
    if spec.kind != "classification":
        return torch.tensor([0.0, 0.0, 1.0 if spec.kind == "regression" else 0.0])
    counts = torch.bincount(task.train.labels.long(), minlength=spec.num_labels).float()
    probabilities = counts / counts.sum()
    entropy = -(probabilities * probabilities.clamp_min(1e-12).log()).sum() / math.log(spec.num_labels)
    return torch.tensor([float(entropy), math.log(spec.num_labels) / math.log(100.0), 0.0])


@torch.no_grad()
def task_descriptors(
    backbone: PreTrainedModel, data: MultiTaskData, num_examples: int = 64, batch_size: int = 32, seed: int = 0
) -> Tensor:
    """Descriptor of each task: the L2-normalised mean-pooled backbone embedding of a sample of its training
    inputs, followed by its :func:`label_statistics`.

    Run this on the backbone before adapters are active (or with them inactive): it describes the data, not
    the fine-tuned model.

    Shapes:
        - returns: (t, h + 3)
    """
    generator = torch.Generator().manual_seed(seed)
    device = next(backbone.parameters()).device
    was_training = backbone.training
    backbone.eval()
    rows = []
    for task in data.tasks:
        split = task.train
        count = min(num_examples, len(split))
        indices = torch.randperm(len(split), generator=generator)[:count]
        pooled = []
        for start in range(0, count, batch_size):
            chunk = indices[start : start + batch_size]
            input_ids = split.input_ids[chunk].to(device)
            attention_mask = split.attention_mask[chunk].to(device)
            outputs = backbone(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            pooled.append(masked_mean_pool(outputs.hidden_states[-1].float(), attention_mask))
        mean = functional.normalize(torch.cat(pooled).mean(dim=0), dim=0).cpu()
        rows.append(torch.cat([mean, label_statistics(task)]))
    backbone.train(was_training)
    return torch.stack(rows)
