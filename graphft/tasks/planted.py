"""Synthetic multi-task problems with planted structure: tasks built from known latent skills, grouped in known
clusters, some with few examples. Used to check that the learned graph and allocations recover the structure.

Axis legend: t tasks, s skills, m examples, n tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from graphft.tasks.data import EncodedSplit, MultiTaskData, TaskData
from graphft.tasks.spec import TaskSpec

__all__ = ["PlantedProblem", "planted_problem"]


@dataclass
class PlantedProblem:
    """A planted problem and its ground truth.

    Attributes:
        data: the encoded tasks.
        clusters: (t) the planted cluster of each task.
        skills: (t, s) 1 where a task uses a latent skill.
    """

    data: MultiTaskData
    clusters: list[int]
    skills: Tensor


def planted_problem(
    num_clusters: int = 3,
    tasks_per_cluster: int = 3,
    train_examples: int = 256,
    few_shot_examples: int = 32,
    eval_examples: int = 128,
    tokens: int = 16,
    vocab_size: int = 128,
    seed: int = 0,
) -> PlantedProblem:
    """Build a planted problem.

    Each cluster owns one latent skill: a random sign for every token of a shared vocabulary slice and of its
    own slice. A task of the cluster draws half of each input from the shared slice and half from its own, and
    labels an input 1 when the signed token count is positive. Tasks of one cluster share inputs and the skill
    (and should share modules); tasks of different clusters read the shared tokens with conflicting signs, so
    one module cannot serve them all. The last task of each cluster gets only ``few_shot_examples``.

    Shapes:
        - skills: (t, s) with s = num_clusters
    """
    generator = torch.Generator().manual_seed(seed)
    first_token = 5
    slice_size = (vocab_size - first_token) // (num_clusters + 1)
    shared_tokens = torch.arange(first_token, first_token + slice_size)
    tasks, clusters = [], []
    for cluster in range(num_clusters):
        own_tokens = torch.arange(first_token + (cluster + 1) * slice_size, first_token + (cluster + 2) * slice_size)
        vocabulary = torch.cat([shared_tokens, own_tokens])
        signs = torch.randint(0, 2, (2 * slice_size,), generator=generator) * 2 - 1
        for member in range(tasks_per_cluster):
            name = f"c{cluster}_t{member}"
            count = few_shot_examples if member == tasks_per_cluster - 1 else train_examples
            splits = []
            for size in (count, eval_examples, eval_examples):
                shared = torch.randint(0, slice_size, (size, tokens // 2), generator=generator)
                own = torch.randint(slice_size, 2 * slice_size, (size, tokens - tokens // 2), generator=generator)
                positions = torch.cat([shared, own], dim=1)
                order = torch.argsort(torch.rand(size, tokens, generator=generator), dim=1)
                positions = torch.gather(positions, 1, order)
                labels = (signs[positions].sum(dim=1) > 0).long()
                ids = vocabulary[positions]
                splits.append(EncodedSplit(ids, torch.ones(size, tokens, dtype=torch.long), labels))
            tasks.append(TaskData(TaskSpec(name, "classification", ["negative", "positive"]), *splits))
            clusters.append(cluster)
    skills = torch.nn.functional.one_hot(torch.tensor(clusters), num_clusters).float()
    return PlantedProblem(MultiTaskData(tasks), clusters, skills)
