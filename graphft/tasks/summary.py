"""Per-task records of a suite: split sizes, label balance and the majority baseline."""

from __future__ import annotations

from typing import Any

import torch

from graphft.tasks.data import MultiTaskData

__all__ = ["format_summary", "suite_summary"]


def suite_summary(data: MultiTaskData) -> list[dict[str, Any]]:
    """One record per task: ``name``, ``kind``, split sizes, ``label_balance`` (fraction of each class in the
    training split) and ``majority_baseline`` (test accuracy of always predicting the most frequent training
    class; classification tasks only)."""
    records = []
    for task in data.tasks:
        record: dict[str, Any] = {
            "name": task.spec.name,
            "kind": task.spec.kind,
            **{f"{split}_size": len(task.split(split)) for split in ("train", "validation", "test")},
        }
        if task.spec.kind == "classification":
            counts = torch.bincount(task.train.labels.long(), minlength=task.spec.num_labels).float()
            record["label_balance"] = dict(zip(task.spec.label_names, (counts / counts.sum()).tolist(), strict=True))
            majority = int(counts.argmax())
            test_labels = task.test.labels.long()
            record["majority_baseline"] = float((test_labels == majority).float().mean()) if len(test_labels) else 0.0
        records.append(record)
    return records


def format_summary(records: list[dict[str, Any]]) -> str:
    """A markdown table of :func:`suite_summary` records."""
    lines = [
        "| task | train | validation | test | label balance (train) | majority baseline (test) |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for record in records:
        balance = ", ".join(f"{name} {share:.2f}" for name, share in record.get("label_balance", {}).items())
        majority = f"{record['majority_baseline']:.3f}" if "majority_baseline" in record else "-"
        lines.append(
            f"| {record['name']} | {record['train_size']} | {record['validation_size']} | {record['test_size']} | "
            f"{balance or '-'} | {majority} |"
        )
    return "\n".join(lines)
