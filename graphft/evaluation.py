"""Per-task evaluation: accuracy and macro-F1 for classification, MSE and Spearman for regression.

Axis legend: b batch, m examples.
"""

from __future__ import annotations

import math

import torch
from scipy.stats import spearmanr
from sklearn.metrics import f1_score

from graphft.model import GraphFTModel
from graphft.tasks.data import MultiTaskData

__all__ = ["evaluate", "majority_baseline"]


@torch.no_grad()
def evaluate(model: GraphFTModel, data: MultiTaskData, split: str = "validation", batch_size: int = 64) -> dict:
    """Metrics of every task on ``split``: ``{task: {metric: value}}`` plus ``{"average": ...}`` of headline metrics.

    ``data`` may hold any subset of the model's tasks (matched by name).

    Runs in eval mode (deterministic, sparse paths) and restores the previous mode.
    """
    was_training = model.training
    model.eval()
    device = model.task_features.device
    results: dict[str, dict[str, float]] = {}
    for position, task in enumerate(data.tasks):
        task_id = model.task_id(task.spec.name)  # ``data`` may hold a subset of the model's tasks
        encoded = task.split(split)
        if len(encoded) == 0:
            continue
        predictions, targets, losses = [], [], []
        for start in range(0, len(encoded), batch_size):
            indices = torch.arange(start, min(start + batch_size, len(encoded)))
            positions = torch.full((len(indices),), position, dtype=torch.long)
            batch = data.batch(split, positions, indices)
            batch["task_ids"] = torch.full_like(positions, task_id)
            batch = {key: value.to(device) for key, value in batch.items()}
            output = model(**batch)
            if task.spec.kind == "classification":
                predictions.append(output.logits.argmax(dim=-1).cpu())
            elif task.spec.kind == "regression":
                predictions.append(output.logits[:, 0].float().cpu())
            else:
                losses.append(float(output.task_loss) * len(indices))
            targets.append(batch["labels"].cpu())
        metrics: dict[str, float] = {}
        if task.spec.kind == "classification":
            predicted, true = torch.cat(predictions).numpy(), torch.cat(targets).long().numpy()
            metrics["accuracy"] = float((predicted == true).mean())
            metrics["macro_f1"] = float(f1_score(true, predicted, average="macro", zero_division=0))
        elif task.spec.kind == "regression":
            predicted_values, true_values = torch.cat(predictions), torch.cat(targets).float()
            metrics["mse"] = float((predicted_values - true_values).pow(2).mean())
            rho = spearmanr(predicted_values.numpy(), true_values.numpy()).statistic
            metrics["spearman"] = 0.0 if rho is None or math.isnan(rho) else float(rho)
        else:
            metrics["loss"] = sum(losses) / len(encoded)
        metrics["metric"] = metrics[task.spec.metric]
        results[task.spec.name] = metrics
    model.train(was_training)
    headline = [metrics["metric"] for metrics in results.values()]
    results["average"] = {"metric": sum(headline) / max(len(headline), 1)}
    return results


def majority_baseline(data: MultiTaskData, split: str = "test") -> dict[str, float]:
    """Accuracy of always predicting each classification task's most frequent training label."""
    baseline = {}
    for task in data.tasks:
        if task.spec.kind != "classification" or len(task.split(split)) == 0:
            continue
        majority = int(torch.bincount(task.train.labels.long()).argmax())
        baseline[task.spec.name] = float((task.split(split).labels.long() == majority).float().mean())
    return baseline
