"""From raw texts and labels to encoded, stratified train / validation / test splits.

Axis legend: m examples, n tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sklearn.model_selection import train_test_split
from transformers import PreTrainedTokenizerBase

from graphft.errors import TaskError
from graphft.tasks.data import EncodedSplit, TaskData
from graphft.tasks.spec import TaskSpec

__all__ = ["encode_texts", "task_from_texts"]


def encode_texts(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], labels: torch.Tensor, max_length: int
) -> EncodedSplit:
    """Tokenise ``texts`` (truncated and padded to ``max_length``).

    Shapes:
        - labels: (m) -> EncodedSplit with (m, max_length) ids and mask
    """
    encoded = tokenizer(list(texts), max_length=max_length, truncation=True, padding="max_length", return_tensors="pt")
    return EncodedSplit(encoded["input_ids"], encoded["attention_mask"], labels)


def task_from_texts(
    spec: TaskSpec,
    texts: Sequence[str],
    labels: Sequence[int] | Sequence[float],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = 64,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    max_train: int | None = None,
    max_eval: int | None = None,
    seed: int = 0,
) -> TaskData:
    """Split (stratified for classification, deterministic under ``seed``) and encode one task.

    Args:
        spec: the task.
        texts, labels: the examples; labels are class ids (classification) or numbers (regression).
        tokenizer: the backbone's tokenizer.
        max_length: tokens per example.
        validation_fraction, test_fraction: split sizes.
        max_train, max_eval: optional caps on the train and on each evaluation split (after splitting).

    Raises:
        TaskError: empty task, mismatched lengths, labels out of range, a class too rare to split.
    """
    if len(texts) != len(labels):
        raise TaskError(f"task {spec.name!r}: {len(texts)} texts but {len(labels)} labels; give one label per text.")
    if len(texts) == 0:
        raise TaskError(f"task {spec.name!r} has no examples; give it at least a few labelled texts.")
    if not all(isinstance(text, str) for text in texts):
        raise TaskError(f"task {spec.name!r}: every text must be a str.")
    classification = spec.kind == "classification"
    label_tensor = torch.tensor(list(labels), dtype=torch.long if classification else torch.float32)
    if classification:
        present = set(label_tensor.tolist())
        if min(present) < 0 or max(present) >= spec.num_labels:
            raise TaskError(
                f"task {spec.name!r}: labels must be class ids in [0, {spec.num_labels - 1}], got "
                f"{sorted(present)[:10]}."
            )
        if len(present) < 2:
            raise TaskError(f"task {spec.name!r}: all examples have one label; a task needs at least two classes.")
    indices = list(range(len(texts)))
    stratify = label_tensor.tolist() if classification else None
    try:
        rest, test = train_test_split(indices, test_size=test_fraction, random_state=seed, stratify=stratify)
        rest_labels = [stratify[i] for i in rest] if stratify else None
        share = validation_fraction / (1.0 - test_fraction)
        train, validation = train_test_split(rest, test_size=share, random_state=seed, stratify=rest_labels)
    except ValueError as exc:
        raise TaskError(
            f"task {spec.name!r} cannot be split into train/validation/test ({exc}); give every class at least "
            "a few examples."
        ) from exc
    if max_train is not None:
        train = train[:max_train]
    if max_eval is not None:
        validation, test = validation[:max_eval], test[:max_eval]
    if classification:
        for name, split in (("train", train), ("validation", validation), ("test", test)):
            missing = set(range(spec.num_labels)) - {int(label_tensor[i]) for i in split}
            if missing:
                labels_missing = ", ".join(spec.label_names[i] for i in sorted(missing))
                raise TaskError(
                    f"task {spec.name!r}: the {name} split has no examples of {labels_missing}; give those classes "
                    "more examples or raise max_train/max_eval."
                )

    def encode(split: list[int]) -> EncodedSplit:
        return encode_texts(tokenizer, [texts[i] for i in split], label_tensor[split], max_length)

    return TaskData(spec, encode(train), encode(validation), encode(test))
